"""Names no list holds, found by a flow's `from_message: {names: [...]}` (bot/flows/names.py)."""

from __future__ import annotations

import pytest

from bot.flows.loader import FlowFormatError, parse_from_message
from bot.flows.names import name_in

APPS = ["* app", "*-app"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("the Chase app keeps crashing", "Chase app"),
        ("the Disney+ app freezes on my TV", "Disney+ app"),
        ("my banking app won't open", "banking app"),
        ("Seit gestern hängt die Banking-App.", "Banking-App"),
        ("Die Sparkassen-App öffnet nicht", "Sparkassen-App"),
        ("my app crashes", None),
        ("the mobile app crashes", None),
        ("die neue App stürzt ab", None),
        ("ich habe die App neu installiert", None),
        ("Outlook keeps crashing", None),
    ],
)
def test_a_name_is_taken_as_written_and_words_that_name_nothing_are_not(
    text: str, name: str | None
) -> None:
    assert name_in(text, APPS) == name


@pytest.mark.parametrize("pattern", ["app", "* * app", "*"])
def test_a_pattern_needs_one_star_and_a_word(pattern: str) -> None:
    with pytest.raises(FlowFormatError, match="needs one `\\*`"):
        parse_from_message({"names": [pattern]}, step_id="app_name", source="flow.yml", line=3)


def test_a_valid_pattern_is_kept() -> None:
    spec = parse_from_message({"names": APPS}, step_id="app_name", source="flow.yml", line=3)
    assert spec is not None and spec.names == tuple(APPS)
