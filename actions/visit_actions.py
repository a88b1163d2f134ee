"""Technician visits from the chat: book a slot the customer picked, reschedule, cancel."""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.customer_actions import start_customer_flow
from actions.turns import customer_turn
from api.runtime import runtime
from api.services import customers, tickets, visits
from api.services.errors import ServiceError
from api.services.visits import SlotTaken


def _idempotency_key(tracker: Tracker, ref: str) -> Optional[str]:
    # One booking per customer message: a resent message gets the same booking back.
    message_id = (tracker.latest_message or {}).get("message_id")
    return f"chat:{tracker.sender_id}:{message_id}:{ref}"[:80] if message_id else None


def _offer_again(
    dispatcher: CollectingDispatcher, taken: SlotTaken, *, reschedule: bool
) -> list[EventType]:
    if not taken.next_slots:
        dispatcher.utter_message(
            text="I'm sorry, that time was just taken and there are no other free times in "
            "the next two weeks. A colleague will call you to arrange a visit."
        )
        return []
    dispatcher.utter_message(
        text="I'm sorry, someone booked that time a moment ago. These are the next free times:",
        buttons=[visits.slot_button(s, reschedule=reschedule) for s in taken.next_slots],
    )
    return []


async def _show_booked(
    dispatcher: CollectingDispatcher,
    session: Any,
    customer: Any,
    booking: Any,
    ref: str,
) -> None:
    """The customer picked a time but already has a visit: show it, offer to move or cancel it."""
    name = await visits.technician_name(session=session, technician_id=booking.technician_id)
    tz = await visits.area_timezone(session=session, code=customer.service_area)
    when = visits.describe_time(booking.starts_at, tz, booking.ends_at)
    on_ticket = (
        f" (ticket {tickets.format_ticket_number(booking.ticket_id)})" if booking.ticket_id else ""
    )
    dispatcher.utter_message(
        text=f"You already have a technician visit booked with {name} on {when}{on_ticket}, "
        "so I haven't booked another one. If it suits you, there's nothing more to do; "
        "otherwise I can move it to the time you picked, or cancel it.",
        buttons=[
            {
                "title": "Move it to that time",
                "payload": f'/reschedule_visit{{"visit_slot":"{ref}"}}',
            },
            {"title": "Cancel it", "payload": "/cancel_visit"},
        ],
    )


class ActionBookVisit(Action):
    """Without a slot: start the booking flow. With a picked slot: book it."""

    def name(self) -> str:
        return "action_book_visit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ref = customer_turn(tracker).entity("visit_slot")
        if not ref:
            return await start_customer_flow(dispatcher, tracker, "book_visit")
        try:
            technician_id, starts_at = visits.parse_slot_ref(ref)
            async with runtime.database.session() as session:
                customer = await customers.customer_for_conversation(
                    session=session, conversation_id=tracker.sender_id
                )
                if customer is None:
                    return await start_customer_flow(dispatcher, tracker, "book_visit")
                key = _idempotency_key(tracker, ref)
                booked = await visits.active_booking(session=session, customer_id=customer.id)
                if booked is not None and (key is None or booked.idempotency_key != key):
                    # Never a second visit: show the booked one and offer to move it here.
                    await _show_booked(dispatcher, session, customer, booked, ref)
                    return []
                ticket = await tickets.get_ticket(
                    session=session, number=str(tracker.get_slot("ticket_number") or "")
                )
                if ticket is None or not tickets.visible_to(
                    ticket, conversation_id=tracker.sender_id, customer_id=customer.id
                ):
                    ticket, _ = await tickets.open_or_update(
                        session=session,
                        conversation_id=tracker.sender_id,
                        customer_id=customer.id,
                        domain="internet" if "internet" in customer.services else "cable",
                        title="Technician visit",
                        summary="The customer asked for a technician visit in the chat.",
                    )
                booking = await visits.book_visit(
                    session=session,
                    customer=customer,
                    technician_id=technician_id,
                    starts_at=starts_at,
                    ticket=ticket,
                    conversation_id=tracker.sender_id,
                    idempotency_key=key,
                )
                name = await visits.technician_name(
                    session=session, technician_id=booking.technician_id
                )
                tz = await visits.area_timezone(session=session, code=customer.service_area)
                when = visits.describe_time(booking.starts_at, tz, booking.ends_at)
                number = ticket.number
        except SlotTaken as taken:
            return _offer_again(dispatcher, taken, reschedule=False)
        except ServiceError as refused:
            dispatcher.utter_message(text=f"Sorry, I couldn't book that: {refused.reason}")
            return []
        dispatcher.utter_message(
            text=f"Booked! {name} will visit you on {when}. It's on ticket {number}. "
            "If the time stops suiting you, just ask me to reschedule or cancel it."
        )
        return [SlotSet("ticket_number", number)]


class ActionManageVisit(Action):
    """Reschedule or cancel the customer's visit."""

    def name(self) -> str:
        return "action_manage_visit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        ref = turn.entity("visit_slot")
        if turn.intent == "reschedule_visit" and ref:
            return await self._move(dispatcher, tracker, ref)
        request = "cancel" if turn.intent == "cancel_visit" else "reschedule"
        return await start_customer_flow(
            dispatcher, tracker, "manage_visit", {"visit_request": request}
        )

    async def _move(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, ref: str
    ) -> list[EventType]:
        try:
            technician_id, starts_at = visits.parse_slot_ref(ref)
            async with runtime.database.session() as session:
                customer = await customers.customer_for_conversation(
                    session=session, conversation_id=tracker.sender_id
                )
                booking = (
                    await visits.active_booking(session=session, customer_id=customer.id)
                    if customer
                    else None
                )
                if customer is None or booking is None:
                    return await start_customer_flow(
                        dispatcher, tracker, "manage_visit", {"visit_request": "reschedule"}
                    )
                new = await visits.reschedule_visit(
                    session=session,
                    booking=booking,
                    technician_id=technician_id,
                    starts_at=starts_at,
                    actor="customer via bot",
                    idempotency_key=_idempotency_key(tracker, ref),
                )
                name = await visits.technician_name(
                    session=session, technician_id=new.technician_id
                )
                tz = await visits.area_timezone(session=session, code=customer.service_area)
                when = visits.describe_time(new.starts_at, tz, new.ends_at)
        except SlotTaken as taken:
            return _offer_again(dispatcher, taken, reschedule=True)
        except ServiceError as refused:
            dispatcher.utter_message(text=f"Sorry, I couldn't change the visit: {refused.reason}")
            return []
        dispatcher.utter_message(text=f"Done: your visit is now on {when} with {name}.")
        return []
