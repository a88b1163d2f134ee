"""Choosing the fallback threshold: replaying the FallbackClassifier and counting the cost."""

from __future__ import annotations

from typing import Any

from scripts.tune_fallback import replay, score


def parse(*ranking: tuple[str, float]) -> dict[str, Any]:
    return {
        "intent_ranking": [{"name": name, "confidence": c} for name, c in ranking],
        "entities": [],
    }


def test_a_confident_guess_is_kept_and_an_unsure_one_falls_back() -> None:
    sure = parse(("problem_internet", 0.8), ("problem_cable", 0.1))
    unsure = parse(("problem_internet", 0.45), ("problem_cable", 0.3))
    assert replay(sure, 0.5, 0.05)[0] == "problem_internet"
    intent, likely = replay(unsure, 0.5, 0.05)
    assert intent == "nlu_fallback" and likely == ("problem_internet", "problem_cable")


def test_two_intents_too_close_fall_back_at_any_threshold() -> None:
    close = parse(("problem_internet", 0.50), ("problem_cable", 0.47))
    assert replay(close, 0.0, 0.05)[0] == "nlu_fallback"


def test_the_fallback_the_model_already_applied_is_replayed_from_its_ranking() -> None:
    applied = parse(("nlu_fallback", 0.5), ("problem_internet", 0.45), ("greet", 0.1))
    assert replay(applied, 0.4, 0.05)[0] == "problem_internet"
    assert replay(applied, 0.5, 0.05)[0] == "nlu_fallback"


def test_wrong_guesses_cost_two_turns_and_fallbacks_one() -> None:
    parses = [
        parse(("problem_internet", 0.9), ("greet", 0.05)),  # right
        parse(("problem_cable", 0.7), ("problem_internet", 0.2)),  # wrong
        parse(("problem_cable", 0.3), ("problem_internet", 0.2)),  # falls back at 0.5
    ]
    examples = [("no internet", "problem_internet")] * 3
    row = score(parses, examples, 0.5, 0.05)
    assert (row["understood"], row["misunderstood"], row["fallback"]) == (1, 1, 1)
    assert row["mean_cost_turns"] == round((2 + 1) / 3, 4)
    # With no threshold the third guess is acted on, and it is wrong too.
    assert score(parses, examples, 0.0, 0.05)["mean_cost_turns"] == round(4 / 3, 4)
