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
        "this is so annoying",
        "Das ist eine Frechheit!",
        "Schon wieder kein Internet",
        "Ich habe die Nase voll von diesem Anbieter",
        "total genervt, seit Tagen geht nichts",
        "fix this or I'll cancel my contract",
        "Wenn das nicht bis morgen geht, dann kündige ich",
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
        "Ich habe es schon neu gestartet",
        "try again later",
        # A calm request to cancel is no threat.
        "I want to cancel my contract",
        "Ich möchte meinen Vertrag kündigen",
        "nein, geht wieder nicht",
    ],
)
def test_calm_messages(text: str) -> None:
    assert not shows_frustration(text)


def test_the_complaint_intent_counts() -> None:
    assert shows_frustration("hm", intent="complaint")
