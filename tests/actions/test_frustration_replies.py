"""How the flow actions answer a frustrated customer."""

from __future__ import annotations

from api.services.chat_requests import respond_to_frustration
from bot.flows.engine import Reply


def test_the_first_time_one_apology() -> None:
    replies = [Reply("What do the lights show?")]
    respond_to_frustration(replies, 1)
    assert replies[0].text.startswith("I'm sorry") and len(replies) == 2


def test_no_second_apology_when_the_reply_already_apologises() -> None:
    replies = [Reply("Sorry, I didn't catch that.")]
    respond_to_frustration(replies, 1)
    assert len(replies) == 1


def test_repeated_frustration_offers_a_person_without_another_apology() -> None:
    replies = [Reply("Is it working now?")]
    respond_to_frustration(replies, 2)
    assert replies[-1].buttons == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert not replies[0].text.startswith("I'm sorry")


def test_no_second_person_offer_when_the_turn_already_offers_one() -> None:
    person = {"title": "Talk to a person", "payload": "/request_human"}
    replies = [Reply("I'm still not sure I understand. What do the lights show?", [person])]
    respond_to_frustration(replies, 2)
    assert len(replies) == 1
    assert "frustrating" not in " ".join(r.text for r in replies)
