"""A request in one sentence of a longer message (bot/sentence_requests.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.sentence_requests import (
    SentenceRequest,
    ranking_with_request,
    request_in_sentences,
    sentences,
)

INTENTS = ["problem_cable", "book_visit", "request_human", "affirm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Got home and the cable box says no signal. Restarted it twice. Can you send a tech?",
            [
                "Got home and the cable box says no signal.",
                "Restarted it twice.",
                "Can you send a tech?",
            ],
        ),
        (
            "Der Receiver zeigt kein Bild!\nKönnen Sie jemanden schicken?",
            [
                "Der Receiver zeigt kein Bild!",
                "Können Sie jemanden schicken?",
            ],
        ),
        # One sentence: the message as a whole says it all.
        ("my cable box says no signal, can you send a tech", []),
        # Too short to stand alone ("Please help." is no request for a person).
        ("Yes I did that. Please help.", []),
        ("", []),
    ],
)
def test_sentences_worth_reading_alone(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_the_surest_request_above_the_threshold_wins() -> None:
    parts = ["the box says no signal", "can you send a tech", "or a person"]
    probabilities = np.array(
        [
            [0.95, 0.03, 0.01, 0.01],
            [0.03, 0.94, 0.02, 0.01],
            [0.02, 0.02, 0.91, 0.05],
        ]
    )
    found = request_in_sentences(parts, probabilities, INTENTS, confidence=0.9)
    assert found == SentenceRequest("book_visit", pytest.approx(0.94), "can you send a tech")


def test_an_unsure_request_or_a_fault_is_no_request() -> None:
    parts = ["the box says no signal", "maybe someone could look"]
    probabilities = np.array([[0.97, 0.01, 0.01, 0.01], [0.10, 0.85, 0.03, 0.02]])
    assert request_in_sentences(parts, probabilities, INTENTS, confidence=0.9) is None


def test_the_request_goes_first_and_the_rest_keep_their_order() -> None:
    ranking = [
        {"name": "problem_cable", "confidence": 0.66},
        {"name": "book_visit", "confidence": 0.16},
        {"name": "request_human", "confidence": 0.14},
    ]
    ranked = ranking_with_request(ranking, SentenceRequest("book_visit", 0.94, "send a tech"))
    assert [r["name"] for r in ranked] == ["book_visit", "problem_cable", "request_human"]
    assert ranked[0]["confidence"] == 0.94
    # The others share what is left: a sure request never looks ambiguous.
    assert sum(r["confidence"] for r in ranked) == pytest.approx(1.0)
    assert ranked[1]["confidence"] == pytest.approx(0.06 * 0.66 / 0.80)


def test_general_help_after_a_story_is_no_request_for_a_person() -> None:
    parts = ["I get an error when I play episodes", "Can anyone help me with this?"]
    probabilities = np.array([[0.90, 0.02, 0.05, 0.03], [0.01, 0.01, 0.97, 0.01]])
    assert request_in_sentences(parts, probabilities, INTENTS) is None
    asked = np.array([[0.90, 0.02, 0.05, 0.03], [0.0, 0.0, 0.999, 0.001]])
    found = request_in_sentences(parts, asked, INTENTS)
    assert found is not None and found.intent == "request_human"
