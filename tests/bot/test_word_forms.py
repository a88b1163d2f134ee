"""Choices match the customer's word forms: "works" finds the synonym "working"."""

from __future__ import annotations

import pytest

from bot.flows.engine import CustomerTurn, match_choice
from bot.flows.model import Choice, Step
from bot.flows.word_forms import stem


@pytest.mark.parametrize(
    "forms",
    [
        ("work", "works", "working", "worked"),
        ("blink", "blinks", "blinking", "blinked"),
        ("flash", "flashes", "flashing"),
        ("stop", "stops", "stopped", "stopping"),
        ("restart", "restarts", "restarted"),
        ("funktioniert", "funktionieren", "funktionierte"),
        ("blinkt", "blinken", "blinkend", "blinkte"),
        ("leuchtet", "leuchten"),
    ],
)
def test_forms_of_a_word_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(form) for form in forms}) == 1, {form: stem(form) for form in forms}


@pytest.mark.parametrize(
    ("one", "other"),
    [("nicht", "nichts"), ("red", "rot"), ("want", "wan"), ("on", "one"), ("off", "often")],
)
def test_different_words_stay_different(one: str, other: str) -> None:
    assert stem(one) != stem(other)


STEP = Step(
    id="state",
    kind="ask_choice",
    question="What does it do now?",
    choices=(
        Choice("fixed", "It works again", "done", synonyms=("working", "funktioniert")),
        Choice("blinking", "The light blinks", "cables", synonyms=("blinking", "blinkt")),
        Choice("hot", "It gets hot", "vents", synonyms=("burns",)),
        Choice("danger", "Burning smell", "danger", synonyms=("burning", "burning smell")),
    ),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it works", "fixed"),
        ("worked", "fixed"),
        ("es funktioniert wieder", "fixed"),
        ("alles funktionieren wieder", "fixed"),
        ("it's blinks", "blinking"),
        ("die Lampe blinken", "blinking"),
        ("blinkend", "blinking"),
        ("it is not working", None),
        # Exactly one choice's word wins over another choice's form of it.
        ("burning", "danger"),
        ("it burns", "hot"),
    ],
)
def test_a_choice_is_found_by_a_form_of_its_words(text: str, expected: str | None) -> None:
    assert match_choice(STEP, CustomerTurn(text=text, intent="inform")) == expected
