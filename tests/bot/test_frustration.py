"""Reading frustration from a message."""

from __future__ import annotations

import pytest

from bot.frustration import shows_frustration


@pytest.mark.parametrize(
    "text",
    [
        "THIS IS THE WORST SERVICE EVER",
        "why does this keep happening???",
        "third time this week the wifi drops",
        "your app is useless",
        "I'm fed up, nothing works and it's ridiculous",
    ],
)
def test_frustrated_messages(text: str) -> None:
    assert shows_frustration(text)


@pytest.mark.parametrize(
    "text",
    [
        "my internet is not working",
        "the light is orange",
        "OK",
        "Yes please",
        "TV",
        "no",
        "no, still not working",
    ],
)
def test_calm_messages(text: str) -> None:
    assert not shows_frustration(text)


def test_the_complaint_intent_counts() -> None:
    assert shows_frustration("hm", intent="complaint")
