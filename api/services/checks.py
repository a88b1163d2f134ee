"""Named system lookups that diagnostic flows can branch on (`check:` steps).

A check gets the flow's slots (and may store values into them for later
messages, e.g. `{outage_expected_end}`) and answers one of the results listed
for it in bot/flows/model.py KNOWN_CHECKS. Checks that need to know whose
conversation it is read `current_conversation`, which the diagnosis service
sets for the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Optional

from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.models import Customer
from api.services import catalog, customers, goodwill, outages, parts, tickets, visits
from api.services.catalog import Gesture
from api.services.ticket_overview import ticket_lines, title_in
from bot.wording import say

logger = logging.getLogger(__name__)

Check = Callable[[Database, dict[str, Any]], Awaitable[str]]
current_conversation: ContextVar[Optional[str]] = ContextVar("current_conversation", default=None)
# The conversation's language, for the texts checks store in slots.
current_language: ContextVar[str] = ContextVar("current_language", default="en")
# The flows' ticket titles by their English text (FlowLibrary.ticket_titles), set with
# the language, so a customer reads their tickets' titles in their own language.
flow_ticket_titles: ContextVar[Mapping[str, str]] = ContextVar(
    "flow_ticket_titles", default=MappingProxyType({})
)
MAX_IDENTIFY_ATTEMPTS = 2


async def _customer(session: AsyncSession, slots: dict[str, Any]) -> Optional[Customer]:
    """The verified customer of this flow or conversation; never one taken from free text."""
    if slots.get("customer_id"):
        return await session.get(Customer, int(slots["customer_id"]))
    return await customers.customer_for_conversation(
        session=session, conversation_id=current_conversation.get()
    )


async def service_outage(database: Database, slots: dict[str, Any]) -> str:
    """`outage` when a known outage covers the customer's service area.

    The answer needs the customer's service area. Until the conversation has
    identified the customer, the honest answer is `unknown`, and flows carry on
    with the on-site checks.
    """
    if "known_outage_areas" in slots:  # sample conversations state the outages directly
        area = slots.get("service_area")
        if not area:
            return "unknown"
        return "outage" if area in slots["known_outage_areas"] else "none"
    async with database.session() as session:
        customer = await _customer(session, slots)
        area = slots.get("service_area") or (customer.service_area if customer else None)
        if not area:
            return "unknown"
        known = await outage_slots(session, str(area), current_language.get())
        if known is None:
            return "none"
        slots["service_area"] = area
        slots.update(known)
        return "outage"


async def outage_slots(session: AsyncSession, area: str, language: str) -> Optional[dict[str, str]]:
    """The outage now covering the area, as the flows' slots (its description and
    estimate in the customer's language); None when there is none."""
    outage = await outages.current_outage(session=session, service_area=area)
    if outage is None:
        return None
    tz = await visits.area_timezone(session=session, code=area)
    expected_end = (
        visits.describe_time(outage.expected_end, tz, language=language)
        if outage.expected_end
        else say("outage.no_estimate", language)
    )
    return {
        "outage_description": outage.description,
        "outage_expected_end": expected_end,
        # The estimate as a sentence, which reads right with and without an end time.
        "outage_estimate": (
            say("outage.estimate", language, time=expected_end)
            if outage.expected_end
            else say("outage.no_estimate_yet", language)
        ),
    }


async def conversation_customer(database: Database, slots: dict[str, Any]) -> str:
    """`known` when this conversation was already linked to a verified customer."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None:
            return "unknown"
        slots.update(customers.flow_slots(customer))
        return "known"


async def verify_customer(database: Database, slots: dict[str, Any]) -> str:
    """Account number or e-mail (`customer_ref`) plus `postcode` → `verified` or `not_found`."""
    slots["identify_attempts"] = int(slots.get("identify_attempts") or 0) + 1
    async with database.session() as session:
        customer = await customers.verify_customer(
            session=session,
            reference=str(slots.get("customer_ref") or ""),
            postcode=str(slots.get("postcode") or ""),
        )
        # The details typed in are not needed any more; the flow state need not keep them.
        slots.pop("postcode", None)
        if customer is None:
            slots["identify_failed"] = slots["identify_attempts"] >= MAX_IDENTIFY_ATTEMPTS
            return "not_found"
        slots.update(customers.flow_slots(customer))
        conversation_id = current_conversation.get()
        if conversation_id:
            await customers.link_conversation(
                session=session, conversation_id=conversation_id, customer_id=customer.id
            )
        return "verified"


def _describe_quote(slots: dict[str, Any], quote: parts.Quote) -> None:
    if quote.part is not None:
        slots["part_number"] = quote.part.part_number
        slots["part_name"] = quote.part.name_in(current_language.get())
        slots["part_price"] = parts.euros(quote.part.price_cents, current_language.get())
    if quote.device is not None:
        slots["device_id"] = quote.device.id
        slots["device_model"] = quote.device.model
        slots["warranty_end"] = (
            visits.describe_date(quote.device.warranty_end, current_language.get())
            if quote.device.warranty_end
            else "unknown"
        )
    slots["part_quote_reason"] = quote.reason
    slots["alternative_part"] = quote.alternative.part_number if quote.alternative else None
    slots["alternative_name"] = (
        quote.alternative.name_in(current_language.get()) if quote.alternative else None
    )
    slots["has_alternative"] = quote.alternative is not None


# Words in part names that say nothing about the part.
PART_NAME_FILLERS = {"for", "the", "and", "with", "für", "die", "der", "das", "und", "mit"}


async def find_part(database: Database, slots: dict[str, Any]) -> str:
    """Match what the customer asked for (`part_request`) against the catalogue."""
    wanted = str(slots.get("part_request") or slots.get("ask_part") or "").lower()
    words = {w for w in wanted.replace("-", " ").split() if len(w) > 2} - PART_NAME_FILLERS
    async with database.session() as session:
        customer = await _customer(session, slots)
        models = {d.model for d in customer.devices} if customer else set()
    best: tuple[int, str] | None = None
    for part in catalog.parts().values():
        if part.part_number.lower() in wanted:
            best = (100, part.part_number)
            break
        name_words = set(" ".join(part.every_name).lower().replace("-", " ").split())
        score = len(words & name_words) * 2 + (1 if models & set(part.fits) else 0)
        if words & name_words and (best is None or score > best[0]):
            best = (score, part.part_number)
    if best is None:
        return "not_found"
    slots["part_number"] = best[1]
    return "found"


async def part_quote(database: Database, slots: dict[str, Any]) -> str:
    """free | quote | incompatible | out_of_stock | unknown for `part_number`."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None or not slots.get("part_number"):
            return "unknown"
        quote = await parts.quote(
            session=session, customer=customer, part_number=str(slots["part_number"])
        )
        _describe_quote(slots, quote)
        return quote.result


async def use_alternative(database: Database, slots: dict[str, Any]) -> str:
    """Switch the order to the alternative part the quote suggested."""
    if not slots.get("alternative_part"):
        return "none"
    slots["part_number"] = slots["alternative_part"]
    return "switched"


# What one part's quote and answers leave in the flow's slots; cleared before the next.
ONE_PARTS_SLOTS = (
    "part_request", "part_number", "part_name", "part_price", "device_id", "device_model",
    "warranty_end", "part_quote_reason", "alternative_part", "alternative_name",
    "has_alternative", "confirm_price", "offer_alternative", "offer_visit",
)  # fmt: skip


async def next_part(database: Database, slots: dict[str, Any]) -> str:
    """`next` when another part named in the same message waits (`parts_to_follow`,
    "a remote and a charger"): it becomes the part asked for. `none` otherwise.
    A visit said yes to for the last part is kept as `visit_wanted`."""
    waiting = list(slots.get("parts_to_follow") or [])
    if not waiting:
        return "none"
    if slots.get("offer_visit") is True:
        # A technician instead of the last part: booked once the others are done.
        slots["visit_wanted"] = True
    for name in ONE_PARTS_SLOTS:
        slots.pop(name, None)
    slots["ask_part"] = waiting[0]
    slots["parts_to_follow"] = waiting[1:] or None  # none left: the flow's `equals: null`
    return "next"


async def place_part_order(database: Database, slots: dict[str, Any]) -> str:
    """Order the quoted part (price accepted, address confirmed); opens or reuses a ticket."""
    conversation_id = current_conversation.get()
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None or not slots.get("part_number"):
            return "failed"
        ticket = None
        if slots.get("ticket_number"):
            ticket = await tickets.get_ticket(session=session, number=str(slots["ticket_number"]))
        quote = await parts.quote(
            session=session, customer=customer, part_number=str(slots["part_number"])
        )
        order = await parts.place_order(
            session=session,
            customer=customer,
            part_number=str(slots["part_number"]),
            accepted_price_cents=quote.price_cents if slots.get("confirm_price") else None,
            ticket=ticket,
            conversation_id=conversation_id,
            domain=str(slots.get("origin_domain") or "hardware"),
            summary=str(slots.get("diagnosis_summary") or ""),
            # One order per part per conversation, however often a turn is retried.
            idempotency_key=f"chat:{conversation_id}:{slots['part_number']}"
            if conversation_id
            else None,
        )
        ticket_row = await session.get(tickets.Ticket, order.ticket_id)
        slots["order_number"] = order.number
        slots["ticket_number"] = ticket_row.number if ticket_row else None
        language = current_language.get()
        slots["order_price"] = (
            say("order.free", language)
            if order.in_warranty
            else say("order.price", language, price=parts.euros(order.price_cents, language))
        )
        return "ordered"


async def visit_availability(database: Database, slots: dict[str, Any]) -> str:
    """`available` when the customer's area has a free technician slot soon."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None:
            return "none"
        found = await visits.free_slots(
            session=session, service_area=customer.service_area, limit=1
        )
        if not found:
            return "none"
        slots["next_visit_time"] = found[0].describe(current_language.get())
        return "available"


async def visit_booked(database: Database, slots: dict[str, Any]) -> str:
    """`booked` when the customer has an upcoming visit; stores its time."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None:
            return "none"
        booking = await visits.active_booking(session=session, customer_id=customer.id)
        if booking is None:
            return "none"
        tz = await visits.area_timezone(session=session, code=customer.service_area)
        slots["visit_id"] = booking.id
        slots["visit_ticket_note"] = ""
        if booking.ticket_id:
            slots["ticket_number"] = tickets.format_ticket_number(booking.ticket_id)
            slots["visit_ticket_note"] = say(
                "visit.ticket_note", current_language.get(), ticket=slots["ticket_number"]
            )
        slots["visit_time"] = visits.describe_time(
            booking.starts_at, tz, booking.ends_at, current_language.get()
        )
        slots["technician_name"] = await visits.technician_name(
            session=session, technician_id=booking.technician_id
        )
        return "booked"


# How many of a customer's latest tickets "find my tickets" shows.
TICKETS_SHOWN = 3


async def customer_tickets(database: Database, slots: dict[str, Any]) -> str:
    """`found` when the identified customer has tickets; stores the latest ones, each
    with its status, part orders and visits, as `tickets_overview`."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None:
            return "none"
        latest, _ = await tickets.list_tickets(
            session=session, customer_id=customer.id, limit=TICKETS_SHOWN
        )
        if not latest:
            return "none"
        language = current_language.get()
        lines = []
        for ticket in latest:
            lines.extend(await ticket_lines(session, ticket, language, flow_ticket_titles.get()))
        slots["tickets_overview"] = "\n".join(lines)
        slots["ticket_number"] = latest[0].number
        return "found"


async def ticket_to_close(database: Database, slots: dict[str, Any]) -> str:
    """Which open ticket the customer asks us to close.

    `one` (or `visit` when a technician visit is still booked on it) with
    `ticket_number` and `ticket_title`; `several` with the open ones listed in
    `open_tickets_list`; `already` when the named ticket is closed; `unknown` when
    the customer must be identified first; `none` when nothing of theirs is open.
    """
    async with database.session() as session:
        customer = await _customer(session, slots)
        conversation = current_conversation.get()
        owner = customer.id if customer else None
        named = str(slots.get("ticket_number") or "")
        if named:
            ticket = await tickets.get_ticket(session=session, number=named)
            if ticket is None or not tickets.visible_to(
                ticket, conversation_id=conversation, customer_id=owner
            ):
                # Perhaps theirs from another chat: asked again once they are identified;
                # never another ticket in its place.
                return "unknown" if customer is None else "none"
            candidates = [ticket]
        elif customer is None:
            return "unknown"
        else:
            candidates = await tickets.open_tickets_of(session=session, customer_id=customer.id)
        if not candidates:
            return "none"
        titles = flow_ticket_titles.get()
        language = current_language.get()
        if len(candidates) > 1:
            slots["open_tickets_list"] = "\n".join(
                f"- {t.number}: {title_in(t.title, language, titles)}"
                for t in candidates[:TICKETS_SHOWN]
            )
            return "several"
        ticket = candidates[0]
        slots["ticket_number"] = ticket.number
        slots["ticket_title"] = title_in(ticket.title, language, titles)
        if ticket.status not in tickets.OPEN_STATUSES:
            return "already"
        booking = await visits.booking_on_ticket(session=session, ticket_id=ticket.id)
        if booking is None:
            return "one"
        tz = await visits.area_timezone(
            session=session, code=customer.service_area if customer else ""
        )
        slots["visit_id"] = booking.id
        slots["visit_time"] = visits.describe_time(booking.starts_at, tz, booking.ends_at, language)
        return "visit"


async def mark_ticket_solved(database: Database, slots: dict[str, Any]) -> str:
    """The customer says the problem of `ticket_number` is solved: `solved`, or `failed`."""
    async with database.session() as session:
        number = str(slots.get("ticket_number") or "")
        ticket = await tickets.get_ticket(session=session, number=number)
        if ticket is None or ticket.status not in tickets.OPEN_STATUSES:
            return "failed"
        await tickets.change_status(
            session=session,
            ticket=ticket,
            to="resolved",
            actor="customer via bot",
            note=say("record.solved_by_customer"),
        )
        return "solved"


async def cancel_visit_booking(database: Database, slots: dict[str, Any]) -> str:
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None or not slots.get("visit_id"):
            return "failed"
        booking = await visits.get_booking(session=session, booking_id=int(slots["visit_id"]))
        if booking.customer_id != customer.id:
            return "failed"
        await visits.cancel_visit(session=session, booking=booking, actor="customer via bot")
        return "cancelled"


async def save_ticket_contact(database: Database, slots: dict[str, Any]) -> str:
    """Store the e-mail address or phone number in `contact` on `ticket_number`.

    `saved` (the slot then holds the cleaned-up contact), `invalid` (neither an
    e-mail address nor a phone number; after three tries `declined`), or
    `declined` when the customer would rather not leave one. An account number
    instead ("ACC-1002") is `account`: the flow identifies the customer and
    asks again, and then the ticket goes on their account (`linked`).
    """
    typed = str(slots.get("contact") or "")
    if tickets.declines_contact(typed):
        return "declined"
    contact = tickets.parse_contact(typed)
    if contact is None and slots.get("customer_id"):
        return await _put_ticket_on_account(database, slots)
    if tickets.names_an_account(typed):
        return "account"
    if contact is None:
        attempts = int(slots.get("contact_attempts") or 0) + 1
        slots["contact_attempts"] = attempts
        return "declined" if attempts >= tickets.MAX_CONTACT_ATTEMPTS else "invalid"
    async with database.session() as session:
        ticket = await tickets.get_ticket(session=session, number=str(slots.get("ticket_number")))
        customer = await _customer(session, slots)
        if ticket is None or not tickets.visible_to(
            ticket,
            conversation_id=current_conversation.get(),
            customer_id=customer.id if customer else None,
        ):
            return "unknown"
        await tickets.set_contact(
            session=session, ticket=ticket, contact=contact, actor="customer via bot"
        )
    slots["contact"] = contact
    return "saved"


async def _put_ticket_on_account(database: Database, slots: dict[str, Any]) -> str:
    """The identified customer's ticket goes on their account: `linked`."""
    async with database.session() as session:
        ticket = await tickets.get_ticket(session=session, number=str(slots.get("ticket_number")))
        customer = await _customer(session, slots)
        if (
            ticket is None
            or customer is None
            or not tickets.visible_to(
                ticket, conversation_id=current_conversation.get(), customer_id=customer.id
            )
        ):
            return "unknown"
        await tickets.set_customer(
            session=session,
            ticket=ticket,
            customer_id=customer.id,
            account_number=customer.account_number,
            actor="customer via bot",
        )
    return "linked"


async def goodwill_eligible(database: Database, slots: dict[str, Any]) -> str:
    """Offer (and record) the gesture the policy allows, if any."""
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None:
            return "not_eligible"
        verdict = await goodwill.eligibility(
            session=session, customer=customer, domain=slots.get("origin_domain")
        )
        if verdict.rule is None:
            slots["goodwill_reason"] = verdict.reason
            return "not_eligible"
        ticket_id = None
        if slots.get("ticket_number"):
            ticket = await tickets.get_ticket(session=session, number=str(slots["ticket_number"]))
            ticket_id = ticket.id if ticket else None
        gesture: Gesture = verdict.rule.gesture
        row = await goodwill.record_offer(
            session=session,
            customer_id=customer.id,
            gesture=gesture,
            reason=verdict.reason,
            offered_by="bot",
            conversation_id=current_conversation.get(),
            ticket_id=ticket_id,
        )
        slots["gesture_id"] = row.id
        slots["gesture_description"] = gesture.described_in(current_language.get())
        return "eligible"


async def _answer_gesture(database: Database, slots: dict[str, Any], accepted: bool) -> str:
    async with database.session() as session:
        customer = await _customer(session, slots)
        if customer is None or not slots.get("gesture_id"):
            return "failed"
        gesture = await goodwill.get_gesture(session=session, gesture_id=int(slots["gesture_id"]))
        if gesture.customer_id != customer.id or gesture.status != "offered":
            return "failed"
        await goodwill.decide(
            session=session, gesture=gesture, accepted=accepted, actor="customer via bot"
        )
        return "recorded"


async def goodwill_accept(database: Database, slots: dict[str, Any]) -> str:
    return await _answer_gesture(database, slots, True)


async def goodwill_decline(database: Database, slots: dict[str, Any]) -> str:
    return await _answer_gesture(database, slots, False)


CHECKS: dict[str, Check] = {
    "service_outage": service_outage,
    "conversation_customer": conversation_customer,
    "verify_customer": verify_customer,
    "find_part": find_part,
    "part_quote": part_quote,
    "use_alternative": use_alternative,
    "place_part_order": place_part_order,
    "next_part": next_part,
    "visit_availability": visit_availability,
    "visit_booked": visit_booked,
    "customer_tickets": customer_tickets,
    "cancel_visit_booking": cancel_visit_booking,
    "ticket_to_close": ticket_to_close,
    "mark_ticket_solved": mark_ticket_solved,
    "save_ticket_contact": save_ticket_contact,
    "goodwill_eligible": goodwill_eligible,
    "goodwill_accept": goodwill_accept,
    "goodwill_decline": goodwill_decline,
}


class Checks:
    """Runs the named checks against one database (given at start-up)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def run(self, name: str, slots: dict[str, Any]) -> str:
        check = CHECKS.get(name)
        if check is None:
            logger.error("Flow asked for unknown check %r", name)
            return "unknown"
        try:
            return await check(self.database, slots)
        except Exception:  # noqa: BLE001 - a failed lookup must not end the conversation
            logger.exception("Check %r failed", name)
            return "unknown"
