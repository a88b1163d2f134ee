"""Service-operation actions, offline: tracker fixtures in, events and messages out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.part_actions import ActionOrderPart
from actions.ticket_actions import ActionTicketStatus
from actions.visit_actions import ActionBookVisit
from api.db import Database
from api.models import Conversation
from api.services import customers, parts, tickets, visits
from api.services.seed import load_seed
from api.wiring import Services

DATA = Path(__file__).parents[1] / "data"


def tracker(name: str, sender: str, **replace: str) -> Tracker:
    raw = (DATA / name).read_text()
    for old, new in replace.items():
        raw = raw.replace(old, new)
    state = json.loads(raw)
    state["sender_id"] = sender
    return Tracker.from_dict(state)


@pytest.fixture
async def wired(database: Database, services: Services) -> AsyncIterator[Services]:
    async with database.session() as session:
        await load_seed(session=session)
        session.add_all(
            [Conversation(id=name, token_hash=f"h-{name}") for name in ("maria", "ali", "new")]
        )
        await session.flush()
        await customers.link_conversation(session=session, conversation_id="maria", customer_id=1)
        await customers.link_conversation(session=session, conversation_id="ali", customer_id=4)
    yield services


async def _marias_order(database: Database) -> str:
    async with database.session() as session:
        maria = await customers.get_customer(session=session, customer_id=1)
        order = await parts.place_order(
            session=session, customer=maria, part_number="HDMI-CABLE-2M",
            accepted_price_cents=1290, conversation_id="maria",
        )  # fmt: skip
        return tickets.format_ticket_number(order.ticket_id)


async def test_ticket_status_for_the_owner_mentions_the_order(wired: Services) -> None:
    number = await _marias_order(wired.database)
    dispatcher = CollectingDispatcher()
    # A later conversation of the same, verified customer.
    async with wired.database.session() as session:
        session.add(Conversation(id="maria-2", token_hash="h-m2"))
        await session.flush()
        await customers.link_conversation(session=session, conversation_id="maria-2", customer_id=1)
    events = await ActionTicketStatus(wired).run(
        dispatcher, tracker("tracker_ticket_status.json", "maria-2", **{"TCK-000001": number}), {}
    )
    text = dispatcher.messages[0]["text"]
    assert "waiting for a replacement part" in text and "Part order ORD-" in text
    assert events == [SlotSet("ticket_number", number)]


@pytest.mark.parametrize("sender", ["ali", "new"])
async def test_ticket_status_is_private(wired: Services, sender: str) -> None:
    number = await _marias_order(wired.database)
    dispatcher = CollectingDispatcher()
    events = await ActionTicketStatus(wired).run(
        dispatcher, tracker("tracker_ticket_status.json", sender, **{"TCK-000001": number}), {}
    )
    text = dispatcher.messages[0]["text"]
    assert "HDMI" not in text and "Maria" not in text
    if sender == "ali":  # identified, and not his ticket
        assert events == [] and "can't find a ticket" in text
    else:  # not identified yet: their own tickets once identified, nothing of this one
        assert f"I can't see a ticket {number} in this chat." in text
        assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == [
            "Find my tickets",
            "Talk to a person",
        ]


async def test_booking_a_picked_slot_and_losing_one(wired: Services) -> None:
    async with wired.database.session() as session:
        slot = (await visits.free_slots(session=session, service_area="berlin-mitte"))[0]
    picked = tracker("tracker_book_visit_slot.json", "ali", REPLACED_BY_TEST=slot.ref)
    dispatcher = CollectingDispatcher()
    events = await ActionBookVisit(wired).run(dispatcher, picked, {})
    assert "Booked!" in dispatcher.messages[0]["text"]
    assert events and events[0]["name"] == "ticket_number"

    late = CollectingDispatcher()
    marias = tracker("tracker_book_visit_slot.json", "maria", REPLACED_BY_TEST=slot.ref)
    events = await ActionBookVisit(wired).run(late, marias, {})
    assert "someone booked that time" in late.messages[0]["text"]
    offered = [b["payload"] for b in late.messages[0]["buttons"]]
    assert offered and all(p.startswith("/book_visit") for p in offered)
    assert slot.ref not in " ".join(offered)
    # The times offered again wait for an answer, typed or pressed; nothing was booked.
    state = next(e["value"] for e in events if e["name"] == "flow_state")
    assert [b["payload"] for b in state["visit_offer"]] == offered
    assert not any(e["name"] == "ticket_number" for e in events)


async def test_a_nonsense_slot_gets_a_polite_answer(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    bad = tracker("tracker_book_visit_slot.json", "ali", REPLACED_BY_TEST="tomorrow")
    assert await ActionBookVisit(wired).run(dispatcher, bad, {}) == []
    assert "couldn't book that" in dispatcher.messages[0]["text"]


async def test_ordering_a_part_starts_with_identification(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderPart(wired).run(
        dispatcher, tracker("tracker_order_part.json", "new"), {}
    )
    buttons = [b["title"] for m in dispatcher.messages for b in m.get("buttons", [])]
    assert buttons == ["My account number", "My e-mail address", "I have neither to hand"]
    state = next(e["value"] for e in events if e["name"] == "flow_state")
    assert state["root_flow"] == "request_part" and state["flow"] == "identify_customer"


async def test_a_known_customer_is_asked_for_the_part_directly(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    asked = tracker(
        "tracker_order_part.json",
        "maria",
        **{"I need a new remote control": "I need a replacement part"},
    )
    await ActionOrderPart(wired).run(dispatcher, asked, {})
    texts = [m["text"] for m in dispatcher.messages]
    assert "Which part do you need?" in texts
    assert not any("account" in t.lower() for t in texts), texts


async def test_a_known_customer_who_named_the_part_is_not_asked_which(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    await ActionOrderPart(wired).run(dispatcher, tracker("tracker_order_part.json", "maria"), {})
    texts = [m["text"] for m in dispatcher.messages]
    # "I need a new remote control": the request heard, the part taken from it.
    assert texts[0] == "Let's order your replacement part.", texts
    assert texts[1].startswith("You asked for this part: A remote control."), texts
    assert "Which part do you need?" not in texts


async def test_an_account_number_mistaken_for_a_ticket_question_goes_to_the_flow(
    wired: Services,
) -> None:
    """The identification flow asked for the account number; NLU read ticket_status."""
    state = {
        "flow": "identify_customer", "root_flow": "identify_customer", "step": "ask_account",
        "stack": [], "history": [], "slots": {}, "trail": [], "misses": 0,
    }  # fmt: skip
    raw = json.loads((DATA / "tracker_ticket_status.json").read_text())
    raw["sender_id"] = "new"
    raw["slots"]["flow_state"] = state
    raw["latest_message"].update(text="ACC-1004", entities=[])
    dispatcher = CollectingDispatcher()
    events = await ActionTicketStatus(wired).run(dispatcher, Tracker.from_dict(raw), {})
    assert "postcode" in dispatcher.messages[-1]["text"]
    new_state = next(e["value"] for e in events if e.get("name") == "flow_state")
    assert new_state["step"] == "ask_postcode"
    assert new_state["slots"]["customer_ref"] == "ACC-1004"


# ------------------------------------------------------------------- in German


async def test_a_german_customer_hears_the_actions_in_german(wired: Services) -> None:
    """The language the API sends with the message (metadata.language) picks the texts."""
    from tests.actions.offline_chat import OfflineChat

    chat = OfflineChat("ali", wired, language="de")
    unknown = await chat.say(
        "wie ist der Stand von TCK-999999?", "ticket_status", ticket_id="TCK-999999"
    )
    assert unknown.text.startswith("Ich finde kein Ticket TCK-999999 für Sie."), unknown.text

    async with wired.database.session() as session:
        slot = (await visits.free_slots(session=session, service_area="berlin-mitte"))[0]
    booked = await chat.say("diesen Termin", "book_visit", visit_slot=slot.ref)
    assert booked.text.startswith("Gebucht! "), booked.text
    assert " Uhr zu Ihnen." in booked.text and "Ticket TCK-" in booked.text

    lost = await chat.say("äh", "nlu_fallback")
    assert "Können Sie es bitte anders formulieren?" in lost.text, lost.text
    again = await chat.say("hm", "nlu_fallback")
    assert "Mit einem Mitarbeiter sprechen" in [b["title"] for b in again.buttons]
    assert "Kabelfernsehen" in [b["title"] for b in again.buttons]

    queued = await chat.say("Mitarbeiter bitte", "request_human")
    assert "Gerade ist kein Mitarbeiter online." in queued.text, queued.text
    assert [b["title"] for b in queued.buttons] == [
        "Lieber Rückruf",
        "Ich warte",
        "Zurück zum Assistenten",
    ]


async def test_a_ticket_question_without_a_number_offers_the_customers_own_tickets(
    wired: Services,
) -> None:
    """Maria is identified: her ticket is a button. A new customer can have their
    tickets found, or a person."""
    from tests.actions.offline_chat import OfflineChat

    number = await _marias_order(wired.database)
    maria = await OfflineChat("maria", wired).say(
        "what's the status of my ticket?", "ticket_status"
    )
    assert maria.text == "Which ticket do you mean? Its number looks like TCK-000123."
    assert maria.buttons == [
        {"title": number, "payload": f'/ticket_status{{"ticket_id":"{number}"}}'},
        {"title": "Talk to a person", "payload": "/request_human"},
    ]
    picked = await OfflineChat("maria", wired).say(number, "ticket_status", ticket_id=number)
    assert number in picked.text and "HDMI" in picked.text, picked.text

    newcomer = await OfflineChat("new", wired, language="de").say(
        "wie ist der Stand meines Tickets?", "ticket_status"
    )
    assert newcomer.text.startswith("Welches Ticket meinen Sie?")
    # Without the number, their tickets once identified, or a person.
    assert newcomer.buttons == [
        {"title": "Ich habe die Nummer nicht", "payload": "/ticket_status"},
        {"title": "Mit einem Mitarbeiter sprechen", "payload": "/request_human"},
    ]
