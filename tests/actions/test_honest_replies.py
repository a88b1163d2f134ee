"""The assistant never claims what is not so: orders, visits and tickets are announced
once they exist, once per turn; nobody promises contact without a way to reach the
customer; a booked visit is shown instead of booking a second one.

Whole conversations through the custom actions (tests/actions/offline_chat.py), on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.ticket_actions import ActionOpenTicket
from api.db import Database
from api.models import Conversation, Customer, Handoff, PartOrder, Ticket, VisitBooking
from api.services import customers, tickets, visits
from api.services.seed import load_seed
from api.wiring import Services
from bot.flows.engine import CustomerTurn
from tests.actions.offline_chat import OfflineChat, Turn, ticket_numbers

ALI = 4  # ACC-1004, berlin-mitte, an OptiPlex 7010 desktop
PROMISES = ("in touch", "contact you", "call you", "get back to you")


async def handoffs_of(wired: Services, conversation_id: str) -> int:
    """How many times the conversation was queued for a person."""
    async with wired.database.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.conversation_id == conversation_id)
        )


@pytest.fixture
async def wired(database: Database, services: Services) -> AsyncIterator[Services]:
    async with database.session() as session:
        await load_seed(session=session)
        session.add_all(
            [Conversation(id=name, token_hash=f"h-{name}") for name in ("ali", "tom", "anon")]
        )
        await session.flush()
        await customers.link_conversation(session=session, conversation_id="ali", customer_id=ALI)
    yield services


def assert_honest(turn: Turn) -> None:
    """At most one ticket announced per turn, and never two different tickets."""
    assert len(set(ticket_numbers(turn))) <= 1, turn.text
    assert turn.text.count("I've opened ticket") + turn.text.count("I've added this") <= 1


async def _book_for_ali(database: Database) -> tuple[VisitBooking, str]:
    async with database.session() as session:
        ali = await customers.get_customer(session=session, customer_id=ALI)
        ticket = await tickets.open_ticket(
            session=session, conversation_id=None, customer_id=ALI, domain="internet",
            title="Line check",
        )  # fmt: skip
        slot = (await visits.free_slots(session=session, service_area="berlin-mitte"))[0]
        booking = await visits.book_visit(
            session=session, customer=ali, technician_id=slot.technician_id,
            starts_at=slot.starts_at, ticket=ticket,
        )  # fmt: skip
        return booking, ticket.number


async def _bookings(database: Database, customer_id: int) -> list[tuple[int, str]]:
    async with database.session() as session:
        rows = await session.execute(
            select(VisitBooking.id, VisitBooking.status)
            .where(VisitBooking.customer_id == customer_id)
            .order_by(VisitBooking.id)
        )
        return [tuple(r) for r in rows.all()]


# ------------------------------------------------------------------- part orders


async def test_a_charger_is_announced_only_once_ordered_for_the_identified_customer(
    wired: Services,
) -> None:
    """The reported chat: a round-plug charger for a customer whose laptop takes USB-C."""
    chat = OfflineChat("tom", wired)
    await chat.start("hardware_device_no_power")
    await chat.say("laptop")
    await chat.say("no", "deny")
    await chat.say("no", "deny")
    needed = await chat.say("it's a round plug")
    assert "you need a replacement 90 W charger" in needed.text, needed.text
    assert "ordered" not in needed.text.lower()
    assert needed.button("account number")  # identification comes first

    await chat.say("account", choice="account")
    await chat.say("ACC-1002", customer_ref="ACC-1002")
    fits = await chat.say("20249", postcode="20249")
    assert "doesn't fit any device registered to your account" in fits.text
    assert "65 W USB-C" in fits.text and "Would you like that instead?" in fits.text
    assert "ordered" not in fits.text.lower() and not ticket_numbers(fits)

    price = await chat.say("yes", "affirm")
    assert "€39.90" in price.text and "ordered" not in price.text.lower()
    address = await chat.say("yes", "affirm")
    assert "Eppendorfer Landstraße 40" in address.text
    done = await chat.say("yes", "affirm")
    assert "Your order ORD-" in done.text and "is placed" in done.text, done.text
    assert_honest(done)
    assert len(ticket_numbers(done)) == 1, done.text
    async with wired.database.session() as session:
        orders = (await session.execute(select(PartOrder.part_number))).scalars().all()
    assert orders == ["PSU-65W-USBC"]
    for turn in chat.turns[:-1]:
        assert "your order" not in turn.text.lower() and "I've ordered" not in turn.text


async def test_no_flow_announces_an_order_a_booking_or_a_ticket_itself() -> None:
    """Outcome messages explain; the service announces what exists, with its number."""
    from bot.flows.loader import FlowLibrary
    from tests.conftest import FLOWS_DIR

    library = FlowLibrary(FLOWS_DIR)
    library.reload()
    claims = ("i've ordered", "i've opened", "i'm booking", "i've booked", "noted your report",
              "i've noted", "i've asked for", *PROMISES)  # fmt: skip
    found = [
        f"{flow.id}.{step.id}: {step.text}"
        for flow in library.flows().values()
        if flow.id != "ticket_contact"  # speaks after storing the contact details
        for step in flow.steps.values()
        if step.kind == "outcome"
        and step.outcome in ("ticket", "part", "visit", "goodwill")
        and any(claim in step.text.lower() for claim in claims)
    ]
    assert found == []


# ------------------------------------------------------------------------ tickets


async def _laptop_ticket(chat: OfflineChat) -> Turn:
    await chat.start("hardware_device_no_power")
    await chat.say("laptop")
    await chat.say("yes", "affirm")
    await chat.say("no", "deny")
    return await chat.say("no", "deny")


async def test_an_unidentified_customer_is_asked_how_to_reach_them_before_any_promise(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    opened = await _laptop_ticket(chat)
    assert_honest(opened)
    (number,) = set(ticket_numbers(opened))
    assert f"I've opened ticket {number}" in opened.text
    assert not any(p in opened.text.lower() for p in PROMISES), opened.text
    assert "What e-mail address or phone number should they use?" in opened.text

    again = await chat.say("anna at example dot com")
    assert "doesn't look like an e-mail address or a phone number" in again.text
    assert "name@example.com" in again.text
    assert not any(p in again.text.lower() for p in PROMISES)

    saved = await chat.say("it's anna.berg@example.com")
    assert f"A colleague will contact you at anna.berg@example.com about ticket {number}" in (
        saved.text
    )
    assert chat.slots["flow_state"] is None
    async with wired.database.session() as session:
        ticket = await tickets.get_ticket(session=session, number=number)
        assert ticket is not None and ticket.contact == "anna.berg@example.com"
        assert tickets.reachable(ticket)


async def test_a_person_asked_for_after_a_ticket_is_someone_for_the_tickets_domain(
    wired: Services,
) -> None:
    """The diagnosis has ended, but the chat still goes to hardware agents, not "other"."""
    chat = OfflineChat("anon", wired)
    opened = await _laptop_ticket(chat)
    (number,) = set(ticket_numbers(opened))
    await chat.say("anna.berg@example.com")
    assert chat.slots["flow_state"] is None
    nobody = await chat.say("I want a person", "request_human")
    waiting = nobody.button("I'll wait")
    await chat.say(waiting["title"], waiting["payload"].lstrip("/"))
    async with wired.database.session() as session:
        handoff = (
            await session.execute(select(Handoff).where(Handoff.conversation_id == "anon"))
        ).scalar_one()
    assert handoff.skill == "hardware"


async def test_a_customer_who_leaves_no_contact_hears_no_promise(wired: Services) -> None:
    chat = OfflineChat("anon", wired)
    opened = await _laptop_ticket(chat)
    (number,) = set(ticket_numbers(opened))
    declined = await chat.say("no", "deny")
    assert "nobody can contact you" in declined.text, declined.text
    assert f"Ask me about ticket {number} here any time" in declined.text
    assert chat.slots["flow_state"] is None
    async with wired.database.session() as session:
        ticket = await tickets.get_ticket(session=session, number=number)
        assert ticket is not None and ticket.contact is None


async def test_a_phone_number_is_stored_too(wired: Services) -> None:
    chat = OfflineChat("anon", wired)
    opened = await _laptop_ticket(chat)
    (number,) = set(ticket_numbers(opened))
    saved = await chat.say("+49 30 1234567", "ticket_status")  # NLU's guess for digits
    assert "contact you at +49 30 1234567" in saved.text, saved.text
    async with wired.database.session() as session:
        ticket = await tickets.get_ticket(session=session, number=number)
        assert ticket is not None and ticket.contact == "+49 30 1234567"


async def test_an_identified_customer_is_promised_contact_without_being_asked(
    wired: Services,
) -> None:
    chat = OfflineChat("ali", wired)
    opened = await _laptop_ticket(chat)
    assert_honest(opened)
    assert "We'll be in touch about the next steps." in opened.text
    assert "e-mail address or phone number" not in opened.text
    assert chat.slots["flow_state"] is None


async def _ask_for_a_ticket(chat: OfflineChat) -> Turn:
    """The customer asks for a ticket (action_open_ticket)."""
    dispatcher = CollectingDispatcher()
    tracker = chat._tracker("please open a ticket for a technician visit", "book_visit", [])
    events = await ActionOpenTicket(chat.services).run(dispatcher, tracker, {})
    return chat._keep(dispatcher, events)


async def test_a_ticket_asked_for_promises_contact_only_with_a_way_to_reach_the_customer(
    wired: Services,
) -> None:
    anon = await _ask_for_a_ticket(OfflineChat("anon", wired))
    assert_honest(anon)
    (number,) = set(ticket_numbers(anon))
    assert f"I've opened ticket {number} for you: technician visit requested." in anon.text
    assert not any(p in anon.text.lower() for p in PROMISES), anon.text
    assert "What e-mail address or phone number should they use?" in anon.text

    ali = await _ask_for_a_ticket(OfflineChat("ali", wired))
    assert_honest(ali)
    assert "We'll be in touch about the next steps." in ali.text, ali.text
    assert "e-mail address or phone number" not in ali.text
    async with wired.database.session() as session:
        (mine,) = set(ticket_numbers(ali))
        ticket = await tickets.get_ticket(session=session, number=mine)
        assert ticket is not None and ticket.customer_id == ALI


async def test_a_ticket_asked_for_in_german_asks_for_contact_in_german(wired: Services) -> None:
    chat = OfflineChat("anon", wired, language="de")
    opened = await _ask_for_a_ticket(chat)
    assert "Ich habe das Ticket" in opened.text and "meldet sich" not in opened.text, opened.text
    declined = await chat.say("lieber nicht", "deny")
    assert "ich habe keine Kontaktdaten gespeichert" in declined.text, declined.text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("anna@example.com", "anna@example.com"),
        ("Mail me at Anna.Berg@Example.de.", "anna.berg@example.de"),
        ("+49 30 1234567", "+49 30 1234567"),
        ("0170/1234567", "0170/1234567"),
        ("call (030) 123-45-67 please", "(030) 123-45-67"),
        ("anna@example", None),
        ("12345", None),
        ("ACC-1001", None),
        ("tomorrow", None),
    ],
)
def test_contact_details_are_an_e_mail_address_or_a_phone_number(
    typed: str, expected: str | None
) -> None:
    assert tickets.parse_contact(typed) == expected


@pytest.mark.parametrize("typed", ["no", "No thanks", "rather not", "nope", "skip"])
def test_declining_to_leave_contact_details_is_understood(typed: str) -> None:
    assert tickets.declines_contact(typed)
    assert not tickets.declines_contact("no, it's anna@example.com")


# ------------------------------------------------------------------------- visits


async def test_a_booked_visit_is_shown_instead_of_a_second_booking(wired: Services) -> None:
    booking, visit_ticket = await _book_for_ali(wired.database)
    chat = OfflineChat("ali", wired)
    await chat.start("hardware_device_no_power")
    await chat.say("desktop")
    await chat.say("no", "deny")
    shown = await chat.say("no", "deny")
    assert "a technician needs to replace it" in shown.text, shown.text
    assert "You already have a technician visit booked with" in shown.text
    assert f"(ticket {visit_ticket})" in shown.text
    assert {"Keep it", "Move it to another time", "Cancel it"} <= {
        b["title"] for b in shown.buttons
    }
    assert not any("visit_slot" in b["payload"] for b in shown.buttons)
    assert "booked!" not in shown.text.lower()

    kept = await chat.say("keep it")
    assert "stays as it is" in kept.text and f"I've added this to ticket {visit_ticket}" in (
        kept.text
    )
    assert_honest(kept)
    assert await _bookings(wired.database, ALI) == [(booking.id, "booked")]
    async with wired.database.session() as session:
        count = await session.execute(select(func.count()).select_from(Ticket))
        assert count.scalar_one() == 1  # the new report went onto the visit's ticket


async def test_a_booked_visit_can_be_moved_from_the_offer(wired: Services) -> None:
    booking, visit_ticket = await _book_for_ali(wired.database)
    chat = OfflineChat("ali", wired)
    shown = await chat.say("I need a technician", "book_visit")
    assert "You already have a technician visit booked" in shown.text, shown.text
    moving = await chat.say("move it", choice="move")
    assert "new time" in moving.text and moving.buttons, moving.text
    assert all(b["payload"].startswith("/reschedule_visit") for b in moving.buttons)
    slot = moving.buttons[-1]["payload"].split('"visit_slot":"')[1].rstrip('"}')
    moved = await chat.say(moving.buttons[-1]["title"], "reschedule_visit", visit_slot=slot)
    assert "your visit is now on" in moved.text, moved.text
    statuses = [status for _, status in await _bookings(wired.database, ALI)]
    assert statuses == ["cancelled", "booked"]


async def test_picking_a_time_with_a_visit_already_booked_books_nothing(
    wired: Services,
) -> None:
    booking, _ = await _book_for_ali(wired.database)
    async with wired.database.session() as session:
        slot = (await visits.free_slots(session=session, service_area="berlin-mitte"))[0]
    chat = OfflineChat("ali", wired)
    picked = await chat.say(slot.label, "book_visit", visit_slot=slot.ref)
    assert "You already have a technician visit booked" in picked.text, picked.text
    assert "I haven't booked another one" in picked.text
    assert picked.button("Move it to that time")["payload"] == (
        f'/reschedule_visit{{"visit_slot":"{slot.ref}"}}'
    )
    assert await _bookings(wired.database, ALI) == [(booking.id, "booked")]


# ------------------------------------------------------------ a cause explained


async def test_still_not_working_after_the_package_explanation_offers_a_colleague(
    wired: Services,
) -> None:
    """Not a new diagnosis (which once ended in a box replacement): the next useful step."""
    diagnosis = wired.diagnosis

    async def answer(state: dict | None, text: str, intent: str):
        async with wired.database.session() as session:
            return await diagnosis.handle_turn(
                session=session, conversation_id="anon", flow_state=state,
                turn=CustomerTurn(text=text, intent=intent),
            )  # fmt: skip

    async with wired.database.session() as session:
        started = await diagnosis.start_flow(
            session=session, conversation_id="anon", flow_id="cable_channels_missing"
        )
    missing = await answer(started.flow_state, "some channels are missing", "inform")
    explained = await answer(missing.flow_state, "no", "deny")
    assert "aren't part of your current package" in explained.replies[0].text
    assert "Would you like to add them to your package?" in explained.replies[-1].text
    offered = await answer(explained.flow_state, "no, still not working", "problem_persists")
    assert offered.active_flow == "cable_channels_missing"
    assert "a colleague can check your package" in offered.replies[0].text, offered.replies
    assert "Would you like a colleague to check that?" in offered.replies[-1].text
    assert not any("restart" in r.text.lower() or "scan" in r.text.lower() for r in offered.replies)
    handed = await answer(offered.flow_state, "yes", "affirm")
    assert handed.handoff is not None and handed.handoff.skill == "cable"
    assert "channel rights" in handed.handoff.reason


async def _tickets_of(wired: Services, conversation_id: str) -> list[Ticket]:
    async with wired.database.session() as session:
        found = await session.execute(
            select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id)
        )
        return list(found.scalars())


async def test_a_ticket_asked_for_in_a_flow_carries_the_flow_and_is_opened_once(
    wired: Services,
) -> None:
    chat = OfflineChat("ali", wired)
    await chat.start("hardware_device_no_power")
    await chat.say("laptop")
    opened = await chat.say("can you just open a ticket, I have to go", "open_ticket")
    assert_honest(opened)
    (number,) = set(ticket_numbers(opened))
    assert f"I've opened ticket {number} for you with what you've told me so far." in opened.text
    assert "We'll be in touch about the next steps." in opened.text
    (ticket,) = await _tickets_of(wired, "ali")
    assert ticket.domain == "hardware" and ticket.customer_id == ALI
    assert ticket.title.startswith("Ticket requested by the customer: ")
    assert "can you just open a ticket" in ticket.summary

    again = await chat.say("please log a ticket for this", "open_ticket")
    assert_honest(again)
    assert f"Ticket {number} from this chat is still open, so I've added this to it" in again.text
    assert "I've opened" not in again.text
    assert len(await _tickets_of(wired, "ali")) == 1


async def test_a_ticket_asked_for_after_the_flow_opened_one_is_not_opened_twice(
    wired: Services,
) -> None:
    chat = OfflineChat("tom", wired)
    opened = await _laptop_ticket(chat)
    (number,) = set(ticket_numbers(opened))
    await chat.say("anna.berg@example.com")
    again = await chat.say("open a ticket please", "open_ticket")
    assert_honest(again)
    assert ticket_numbers(again) == [number], again.text
    assert len(await _tickets_of(wired, "tom")) == 1


async def test_a_ticket_asked_for_in_the_first_message_takes_its_domain_from_the_words(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired, language="de")
    opened = await chat.say(
        "Bitte ein Ticket für meinen Router anlegen", "open_ticket", device="router"
    )
    assert_honest(opened)
    (number,) = set(ticket_numbers(opened))
    assert f"Ich habe das Ticket {number} für Sie eröffnet, mit allem" in opened.text
    # Nobody can reach an anonymous customer yet: asked how, no promise.
    assert "meldet sich" not in opened.text and "melden uns" not in opened.text
    (ticket,) = await _tickets_of(wired, "anon")
    assert ticket.domain == "internet"


async def test_a_ticket_asked_for_without_any_problem_asks_what_is_wrong_first(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    asked = await chat.say("ticket please", "open_ticket")
    assert "What isn't working?" in asked.text
    assert ticket_numbers(asked) == [] and await _tickets_of(wired, "anon") == []
    described = await chat.say(
        "my printer says offline since this morning", "problem_hardware", device="printer"
    )
    assert_honest(described)
    # The answer to "what isn't working?" is what the ticket is for, not a diagnosis.
    (number,) = set(ticket_numbers(described))
    assert f"I've opened ticket {number} for you with what you've told me so far." in (
        described.text
    )
    (ticket,) = await _tickets_of(wired, "anon")
    assert ticket.domain == "hardware"
    assert "my printer says offline since this morning" in ticket.summary
    assert chat.slots["flow_state"] is None or "ticket_asked" not in chat.slots["flow_state"]


async def test_an_identified_customer_s_ticket_asked_for_then_described_is_opened_once(
    wired: Services,
) -> None:
    chat = OfflineChat("ali", wired)
    await chat.say("I want to open a ticket", "open_ticket")
    described = await chat.say("the wifi drops every evening", "problem_internet")
    (number,) = set(ticket_numbers(described))
    assert "We'll be in touch about the next steps." in described.text
    assert not (chat.slots["flow_state"] or {}).get("ticket_asked")
    # A later problem is diagnosed; it does not go onto the ticket unasked.
    later = await chat.say("and my laptop won't turn on", "problem_hardware", device="laptop")
    assert ticket_numbers(later) == [], later.text
    assert len(await _tickets_of(wired, "ali")) == 1


async def test_a_ticket_asked_for_then_a_question_that_is_no_problem_is_answered_as_usual(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    await chat.say("ticket please", "open_ticket")
    hello = await chat.say("hm, what can you do?", "greet")
    assert ticket_numbers(hello) == [] and await _tickets_of(wired, "anon") == []


async def _ali_ticket(database: Database) -> str:
    async with database.session() as session:
        ticket = await tickets.open_ticket(
            session=session,
            conversation_id="tom",
            customer_id=ALI,
            domain="hardware",
            title="Desktop does not start",
            summary="The desktop stays dark.",
        )
        return ticket.number


@pytest.mark.parametrize(
    ("language", "dont_know", "intent", "shown"),
    [
        ("en", "no idea, sorry", "deny", "Here is what I can see on your account:"),
        ("de", "weiß ich nicht", "out_of_scope", "Das sehe ich in Ihrem Kundenkonto:"),
    ],
)
async def test_a_customer_without_the_ticket_number_is_identified_and_shown_their_tickets(
    wired: Services, database: Database, language: str, dont_know: str, intent: str, shown: str
) -> None:
    number = await _ali_ticket(database)
    chat = OfflineChat("anon", wired, language=language)
    asked = await chat.say("any news on my repair? it was due this morning", "ticket_status")
    # No dead end for a customer who has no number: the way to find it, and a person.
    assert [b["payload"] for b in asked.buttons] == ["/ticket_status", "/request_human"]
    identify = await chat.say(dont_know, intent)
    assert identify.buttons and "/inform" in identify.buttons[0]["payload"]
    await chat.say("account", "inform", choice="account")
    await chat.say("ACC-1004", "inform")
    found = await chat.say("10117", "inform")
    assert shown in found.text and number in found.text, found.text
    assert "Desktop does not start" in found.text


async def test_the_no_number_button_finds_the_tickets_and_a_problem_is_diagnosed_instead(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    await chat.say("any news on my case?", "ticket_status")
    identify = await chat.say("I don't have the number", "ticket_status")
    assert "find your account" in identify.text
    # Another customer describes a problem instead: the diagnosis, no lookup.
    other = OfflineChat("anon2", wired)
    async with wired.database.session() as session:
        session.add(Conversation(id="anon2", token_hash="h-anon2"))
    await other.say("any update on my ticket?", "ticket_status")
    diagnosed = await other.say("actually my wifi keeps dropping", "problem_internet")
    assert "find your account" not in diagnosed.text
    assert not (other.slots.get("flow_state") or {}).get("which_ticket_asked")


async def _assert_booked_at(database: Database, button: dict[str, str], said: str) -> None:
    """Ali has one visit, booked at the time of the offered `button`."""
    booked = await _bookings(database, ALI)
    assert len(booked) == 1 and booked[0][1] == "booked", said
    async with database.session() as session:
        visit = await session.get(VisitBooking, booked[0][0])
    technician, starts = visits.parse_slot_ref(_slot_of(button))
    assert (visit.technician_id, visit.starts_at.replace(tzinfo=None)) == (
        technician,
        starts.replace(tzinfo=None),
    )


def _slot_of(button: dict[str, str]) -> str:
    return button["payload"].split('"visit_slot":"')[1].rstrip('"}')


@pytest.mark.parametrize(
    ("language", "request_text", "typed", "which"),
    [
        ("en", "I need a technician", "the second one please", 1),
        ("en", "I need a technician", "yes", 0),
        ("de", "Ich brauche einen Techniker", "den zweiten bitte", 1),
        ("de", "Ich brauche einen Techniker", "ja", 0),
    ],
)
async def test_a_typed_answer_to_the_offered_times_books_the_time_it_names(
    wired: Services, language: str, request_text: str, typed: str, which: int
) -> None:
    chat = OfflineChat("ali", wired, language=language)
    offer = await chat.say(request_text, "book_visit")
    slots = [b for b in offer.buttons if "visit_slot" in b["payload"]]
    assert len(slots) >= 2, offer.text
    picked = await chat.say(typed, "affirm" if typed in ("yes", "ja") else "inform")
    await _assert_booked_at(wired.database, slots[which], picked.text)
    assert not (chat.slots.get("flow_state") or {}).get("visit_offer")


@pytest.mark.parametrize(
    ("language", "typed", "intent"),
    [
        # "Termin" reads as moving or booking a visit: still a pick from the times offered.
        ("de", "den zweiten Termin bitte", "reschedule_visit"),
        ("de", "ich nehme den zweiten Termin", "book_visit"),
        ("en", "the second appointment please", "reschedule_visit"),
    ],
)
async def test_a_typed_pick_read_as_a_visit_request_books_the_time_it_names(
    wired: Services, language: str, typed: str, intent: str
) -> None:
    chat = OfflineChat("ali", wired, language=language)
    offer = await chat.say("technician please", "book_visit")
    slots = [b for b in offer.buttons if "visit_slot" in b["payload"]]
    picked = await chat.say(typed, intent)
    await _assert_booked_at(wired.database, slots[1], picked.text)
    assert not (chat.slots.get("flow_state") or {}).get("visit_offer")


@pytest.mark.parametrize(
    ("language", "request_text", "typed", "taken_said", "yes"),
    [
        ("en", "I need a technician", "the second one please", "someone booked that time", "yes"),
        ("de", "Ich brauche einen Techniker", "den zweiten bitte", "gerade jemand anderes", "ja"),
    ],
)
async def test_after_a_time_is_taken_a_typed_answer_picks_from_the_times_offered_again(
    wired: Services, language: str, request_text: str, typed: str, taken_said: str, yes: str
) -> None:
    chat = OfflineChat("ali", wired, language=language)
    offer = await chat.say(request_text, "book_visit")
    slots = [b for b in offer.buttons if "visit_slot" in b["payload"]]
    # Another customer in the same area books the second time a moment before Ali.
    technician, starts = visits.parse_slot_ref(_slot_of(slots[1]))
    async with wired.database.session() as session:
        other = await session.get(Customer, 1)
        await visits.book_visit(
            session=session, customer=other, technician_id=technician, starts_at=starts
        )
    lost = await chat.say(typed, "inform")
    assert taken_said in lost.text, lost.text
    again = [b for b in lost.buttons if "visit_slot" in b["payload"]]
    assert again and _slot_of(slots[1]) not in [_slot_of(b) for b in again]
    # "yes" to the times offered again books the first of them.
    booked_turn = await chat.say(yes, "affirm")
    await _assert_booked_at(wired.database, again[0], booked_turn.text)
    assert not (chat.slots.get("flow_state") or {}).get("visit_offer")


async def test_a_typed_answer_that_names_no_offered_time_gets_the_times_again_once(
    wired: Services,
) -> None:
    chat = OfflineChat("ali", wired)
    offer = await chat.say("I need a technician", "book_visit")
    again = await chat.say("hmm, not sure", "nlu_fallback")
    assert "Which of these times suits you?" in again.text
    titles = [b["title"] for b in again.buttons]
    assert titles[:-1] == [b["title"] for b in offer.buttons] and titles[-1] == "Talk to a person"
    # Once: after that the usual answer, and nothing is booked.
    other = await chat.say("hmm", "nlu_fallback")
    assert "Which of these times suits you?" not in other.text
    assert await _bookings(wired.database, ALI) == []


def _days_of(buttons: list[dict[str, str]]) -> set[str]:
    """The days of the offered visit times ("Tue 08 Dec"), from their buttons."""
    return {b["title"].split(",")[0] for b in buttons if "visit_slot" in b["payload"]}


@pytest.mark.parametrize(
    ("language", "request_text", "wish", "weekday", "other_day"),
    [
        ("en", "I need a technician", "none of those, anything on friday?", "Fri", "another day"),
        ("de", "Ich brauche einen Techniker", "geht auch Freitag?", "Fr", "anderer Tag bitte"),
    ],
)
async def test_a_day_wished_at_the_offered_times_offers_that_days_times(
    wired: Services, language: str, request_text: str, wish: str, weekday: str, other_day: str
) -> None:
    chat = OfflineChat("ali", wired, language=language)
    offer = await chat.say(request_text, "book_visit")
    first_days = _days_of(offer.buttons)
    wished = await chat.say(wish, "nlu_fallback")
    friday_days = _days_of(wished.buttons)
    assert friday_days and all(day.startswith(weekday) for day in friday_days), wished.text
    # "Another day" after that: none of the days offered so far.
    other = await chat.say(other_day, "nlu_fallback")
    other_days = _days_of(other.buttons)
    assert other_days and not other_days & (first_days | friday_days), other.text
    # The times now offered are the ones a typed pick chooses from.
    second = [b for b in other.buttons if "visit_slot" in b["payload"]][1]
    booked_turn = await chat.say("the second one" if language == "en" else "den zweiten", "inform")
    await _assert_booked_at(wired.database, second, booked_turn.text)


async def test_another_day_read_as_moving_a_visit_offers_other_days_at_the_offered_times(
    wired: Services,
) -> None:
    chat = OfflineChat("ali", wired, language="de")
    offer = await chat.say("Ich brauche einen Techniker", "book_visit")
    other = await chat.say("Geht auch ein anderer Tag?", "reschedule_visit")
    assert "zu Ihrem Wunsch passen" in other.text, other.text
    assert _days_of(other.buttons) and not _days_of(other.buttons) & _days_of(offer.buttons)
    assert await _bookings(wired.database, ALI) == []


async def test_move_it_to_another_day_leaves_out_the_day_of_the_visit(
    wired: Services, database: Database
) -> None:
    booking, _ = await _book_for_ali(database)
    chat = OfflineChat("ali", wired)
    asked = await chat.say("I need a technician", "book_visit")
    assert "already have a technician visit" in asked.text, asked.text
    moved = await chat.say("another day please", "nlu_fallback")
    async with wired.database.session() as session:
        tz = await visits.area_timezone(session=session, code="berlin-mitte")
    booked_day = visits.describe_time(booking.starts_at, tz).split(",")[0]
    days = _days_of(moved.buttons)
    assert days and booked_day not in days, moved.text


async def test_a_ticket_number_from_elsewhere_offers_to_find_the_customers_tickets(
    wired: Services, database: Database
) -> None:
    number = await _ali_ticket(database)
    chat = OfflineChat("anon", wired, language="de")
    asked = await chat.say(f"Wie ist der Stand von {number}?", "ticket_status", ticket_id=number)
    assert f"In diesem Chat sehe ich kein Ticket {number}." in asked.text, asked.text
    assert "Desktop" not in asked.text  # nothing of the ticket before identification
    assert [b["title"] for b in asked.buttons] == [
        "Meine Tickets suchen",
        "Mit einem Mitarbeiter sprechen",
    ]
    identify = await chat.say("Meine Tickets suchen", "ticket_status")
    assert "Kundenkonto finden" in identify.text, identify.text
    await chat.say("account", "inform", choice="account")
    await chat.say("ACC-1004", "inform")
    found = await chat.say("10117", "inform")
    assert number in found.text and "Desktop does not start" in found.text, found.text


@pytest.mark.parametrize(
    ("language", "text", "intent", "pointer", "person"),
    [
        ("en", "I want to cancel my contract", "account", "My Account", "Talk to a person"),
        ("de", "Ich möchte meinen Vertrag kündigen", "account", "Mein Konto", "Mitarbeiter"),
        ("en", "why is my bill 20 euros higher", "billing", "0800 123 456", "Talk to a person"),
        ("de", "Wie wird das Wetter morgen?", "out_of_scope", "Ich helfe Ihnen", "Mitarbeiter"),
    ],
)
async def test_a_question_that_is_not_ours_offers_the_person_it_mentions(
    wired: Services, language: str, text: str, intent: str, pointer: str, person: str
) -> None:
    chat = OfflineChat("anon", wired, language=language)
    answer = await chat.say(text, intent)
    assert pointer in answer.text, answer.text
    assert answer.button(person)["payload"] == "/request_human"


@pytest.mark.parametrize(
    ("text", "language", "answer"),
    [
        ("hello? anyone there?", "en", "Yes, I'm here"),
        ("Hallo? Ist da jemand?", "de", "Ja, ich bin da"),
    ],
)
async def test_is_anyone_there_before_anything_is_said_is_answered_by_the_assistant(
    wired: Services, text: str, language: str, answer: str
) -> None:
    """ "Is anyone there?" asks whether anyone answers: the assistant does, with a
    person one press away; the press queues the chat."""
    chat = OfflineChat("anon", wired, language=language)
    here = await chat.say(text, "request_human")
    assert here.text.startswith(answer), here.text
    person = here.button("Mitarbeiter" if language == "de" else "person")
    assert person["payload"] == "/request_human"
    queued = await chat.say(person["title"], "request_human")
    assert "online" in queued.text, queued.text
    waiting = await handoffs_of(wired, "anon")
    assert waiting == 1


async def test_is_anyone_there_in_the_middle_of_the_checks_still_reaches_a_person(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    await chat.say("my laptop won't connect to the wifi", "problem_internet")
    assert chat.slots["flow_state"]
    asked = await chat.say("is anyone there?", "request_human")
    assert "online" in asked.text and "I'm here" not in asked.text, asked.text


@pytest.mark.parametrize(
    ("language", "text", "checking"),
    [
        ("en", "is there an outage in my area? my postcode is 10115", "check for outages"),
        ("de", "Ist bei euch grad irgendwo ein Ausfall? PLZ 10115", "eine Störung gibt"),
    ],
)
async def test_an_outage_question_not_understood_as_a_whole_looks_up_the_outage(
    wired: Services, language: str, text: str, checking: str
) -> None:
    """Nearly read as a status question, with no ticket named: the outage where the
    customer lives, not a button to ask about a ticket."""
    chat = OfflineChat("anon", wired, language=language)
    asked = await chat.say(text, "nlu_fallback", likely=("ticket_status", "problem_internet"))
    assert checking in asked.text, asked.text
    assert "Kundenkonto" in asked.text if language == "de" else "account" in asked.text
    await chat.say("account", "inform", choice="account")
    await chat.say("ACC-1001", "inform")
    found = await chat.say("10115", "inform")
    no_outage = "keine Störung" if language == "de" else "no known outage"
    assert no_outage in found.text, found.text


async def test_a_status_question_not_understood_still_offers_the_ticket(wired: Services) -> None:
    chat = OfflineChat("anon", wired)
    asked = await chat.say("wheres my stuff at", "nlu_fallback", likely=("ticket_status",))
    assert asked.button("ticket")["payload"] == "/ticket_status", asked.buttons


@pytest.mark.parametrize(
    ("language", "text", "answer"),
    [
        ("en", "what can you help me with?", "I'm the support assistant"),
        ("de", "bist du ein mensch?", "Ich bin der Support-Assistent"),
    ],
)
async def test_a_question_about_the_assistant_read_as_asking_for_a_person_is_answered(
    wired: Services, language: str, text: str, answer: str
) -> None:
    """Read as a request for a person, yet a question about the assistant: what it does,
    with a person one tap away, and no queue."""
    chat = OfflineChat("anon", wired, language=language)
    about = await chat.say(text, "request_human")
    assert about.text.startswith(answer), about.text
    assert about.button("Mitarbeiter" if language == "de" else "person")
    waiting = await handoffs_of(wired, "anon")
    assert waiting == 0


async def test_a_question_about_the_assistant_with_a_request_for_a_person_queues(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    asked = await chat.say("are you a real person? I want to talk to one", "request_human")
    assert "online" in asked.text and "support assistant" not in asked.text, asked.text
    assert await handoffs_of(wired, "anon") == 1


async def test_a_question_about_the_assistant_in_the_middle_of_the_checks_asks_again(
    wired: Services,
) -> None:
    chat = OfflineChat("anon", wired)
    await chat.say("my internet is not working", "problem_internet")
    about = await chat.say("are you a real person?", "request_human")
    assert about.text.startswith("I'm the support assistant"), about.text
    assert "lights" in about.text, about.text


@pytest.mark.parametrize(
    ("language", "text", "device", "checks"),
    [
        ("en", "i need a new router, mine is broken", "router", "What do its lights show?"),
        ("de", "Ich brauche einen neuen Router, meiner ist kaputt", "router", "Lämpchen"),
        ("en", "can you send me a new cable box, it died", "set-top box", "TV"),
    ],
)
async def test_a_new_router_or_tv_box_asked_for_gets_its_checks_first(
    wired: Services, language: str, text: str, device: str, checks: str
) -> None:
    chat = OfflineChat("ali", wired, language=language)
    turn = await chat.say(text, "order_part", device=device)
    said = turn.text
    assert "quick checks" in said or "kurze Prüfungen" in said, said
    assert checks in said, said
    async with wired.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(PartOrder)) == 0


async def test_a_spare_part_for_a_router_is_still_a_part(wired: Services) -> None:
    chat = OfflineChat("ali", wired)
    turn = await chat.say("I need a new power adapter for my router", "order_part", device="router")
    assert "quick checks" not in turn.text, turn.text
    assert "part" in turn.text.lower(), turn.text
