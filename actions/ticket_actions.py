"""Actions for tickets: opening one on request and telling its status."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.flow_actions import ActionFlowContinue
from actions.turns import awaiting_free_answer, customer_turn, flow_state
from api.models import VisitBooking
from api.runtime import runtime
from api.services import customers, parts, tickets, visits
from api.services.diagnosis import INTENT_DOMAINS
from bot.flows.engine import summarize_trail

STATUS_WORDS = {
    "new": "has been received",
    "open": "is open and being worked on",
    "pending_customer": "is waiting for information from you",
    "pending_part": "is waiting for a replacement part",
    "visit_scheduled": "has a technician visit scheduled",
    "resolved": "is resolved",
    "closed": "is closed",
}
ORDER_WORDS = {
    "placed": "placed, waiting to be shipped",
    "shipped": "shipped, on its way to you",
    "delivered": "delivered",
    "cancelled": "cancelled",
}


class ActionOpenTicket(Action):
    """Open a ticket for what the customer asked, with what was tried so far."""

    def name(self) -> str:
        return "action_open_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        state = flow_state(tracker) or {}
        diagnosis = runtime.require_diagnosis()
        flow = diagnosis.library.get(state.get("root_flow") or state.get("flow") or "")
        request = {
            "order_part": "Replacement part requested",
            "book_visit": "Technician visit requested",
            "reschedule_visit": "Reschedule of a technician visit requested",
            "cancel_visit": "Cancellation of a technician visit requested",
        }.get(turn.intent, "Support request")
        summary = f"Customer wrote: {turn.text[:500]}"
        if state.get("trail"):
            summary += "\n" + summarize_trail(state["trail"], flow_title=flow.title if flow else "")
        async with runtime.database.session() as session:
            ticket = await tickets.open_ticket(
                session=session,
                conversation_id=tracker.sender_id,
                domain=flow.domain if flow else INTENT_DOMAINS.get(turn.intent, "other"),
                title=request,
                summary=summary,
                tier=2,
            )
            number = ticket.number
        dispatcher.utter_message(
            text=f"I've opened ticket {number} for you: {request.lower()}. "
            "A member of our team will contact you to arrange it."
        )
        return [SlotSet("ticket_number", number)]


class ActionTicketStatus(Action):
    """Tell the customer the status of one of their own tickets, with its order or visit."""

    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        if not turn.entity("ticket_id") and awaiting_free_answer(tracker):
            # "ACC-1002" typed as the answer the flow asked for, not a ticket question.
            return await ActionFlowContinue().run(dispatcher, tracker, domain)
        number = turn.entity("ticket_id") or tracker.get_slot("ticket_number")
        if not number:
            dispatcher.utter_message(
                text="Which ticket do you mean? Its number looks like TCK-000123."
            )
            return []
        async with runtime.database.session() as session:
            ticket = await tickets.get_ticket(session=session, number=str(number))
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=tracker.sender_id
            )
            # Customers see tickets from this conversation or of their own verified account.
            if ticket is None or not tickets.visible_to(
                ticket,
                conversation_id=tracker.sender_id,
                customer_id=customer.id if customer else None,
            ):
                dispatcher.utter_message(
                    text=f"I can't find a ticket {number} for you. Please check the number. "
                    "If it's from an earlier chat, ask me to order a part or book a visit "
                    "first so I can confirm your account, or ask me to connect you to a person."
                )
                return []
            lines = [
                f"Ticket {ticket.number} ({ticket.title}) "
                f"{STATUS_WORDS.get(ticket.status, ticket.status)}."
            ]
            orders, _ = await parts.list_orders(session=session, ticket_id=ticket.id, limit=5)
            for order in orders:
                lines.append(
                    f"Part order {order.number} ({order.part_name}): "
                    f"{ORDER_WORDS.get(order.status, order.status)}."
                )
            bookings = await session.execute(
                select(VisitBooking).where(
                    VisitBooking.ticket_id == ticket.id, VisitBooking.status == "booked"
                )
            )
            for booking in bookings.scalars():
                area = customer.service_area if customer else "berlin-mitte"
                tz = await visits.area_timezone(session=session, code=area)
                when = visits.describe_time(booking.starts_at, tz, booking.ends_at)
                lines.append(f"Technician visit: {when}.")
        dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("ticket_number", ticket.number)]
