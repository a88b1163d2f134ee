"""Reading the customer's turn from the tracker."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.turns import customer_turn


def test_the_turn_carries_the_likely_intents_without_the_fallback() -> None:
    tracker = Tracker(
        sender_id="c",
        slots={},
        latest_message={
            "text": "same on both boxes",
            "intent": {"name": "nlu_fallback", "confidence": 0.4},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.4},
                {"name": "problem_cable", "confidence": 0.31},
                {"name": "problem_internet", "confidence": 0.2},
                {"confidence": 0.1},
            ],
            "entities": [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=None,
    )
    turn = customer_turn(tracker)
    assert turn.intent == "nlu_fallback"
    assert turn.likely_intents == ("problem_cable", "problem_internet")


def test_a_message_without_a_ranking_has_no_likely_intents() -> None:
    message = {"text": "hi", "intent": {"name": "greet"}}
    tracker = Tracker("c", {}, message, [], False, None, {}, None)
    assert customer_turn(tracker).likely_intents == ()
