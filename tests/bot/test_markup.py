"""Markup in a chat message is left out of what the assistant reads."""

import pytest

from bot.markup import without_markup


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("<script>alert(1)</script> my internet is down", "my internet is down"),
        ("<b>hello</b> my tv has no picture", "hello my tv has no picture"),
        ("<img src=x onerror=alert(1)> mein WLAN geht nicht", "mein WLAN geht nicht"),
        ("<SCRIPT type='module'>fetch('//x')", "<SCRIPT type='module'>fetch('//x')"),
        ("my router <3 is blinking", "my router <3 is blinking"),
        ("speed is < 10 Mbit and > 5", "speed is < 10 Mbit and > 5"),
        ("no markup here", "no markup here"),
    ],
)
def test_the_words_around_the_markup_are_read(typed: str, read: str) -> None:
    assert without_markup(typed) == read
