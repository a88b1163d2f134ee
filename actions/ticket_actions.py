"""Actions for tickets: opening one on request and telling its status."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import customer_turn, flow_state
from api.runtime import runtime
from api.services import tickets
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
    """Tell the customer the status of a ticket from this conversation."""

    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        number = turn.entity("ticket_id") or tracker.get_slot("ticket_number")
        if not number:
            dispatcher.utter_message(
                text="Which ticket do you mean? Its number looks like TCK-000123."
            )
            return []
        async with runtime.database.session() as session:
            ticket = await tickets.get_ticket(session=session, number=str(number))
            # Customers may only see tickets opened in their own conversation.
            if ticket is None or ticket.conversation_id != tracker.sender_id:
                dispatcher.utter_message(
                    text=f"I can't find a ticket {number} for this conversation. "
                    "Please check the number, or ask me to connect you to a person."
                )
                return []
            dispatcher.utter_message(
                text=f"Ticket {ticket.number} ({ticket.title}) "
                f"{STATUS_WORDS.get(ticket.status, ticket.status)}."
            )
        return []
