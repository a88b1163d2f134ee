"""The customer asked for a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import customer_turn, flow_state
from api.runtime import runtime
from api.services import tickets
from bot.flows.engine import summarize_trail


class ActionRequestHuman(Action):
    """Pass the conversation to a person, with what was tried so far.

    Live chat with an agent is not available in this version, so the request
    becomes a tier-2 ticket with a callback and the summary of the diagnosis.
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        state = flow_state(tracker) or {}
        diagnosis = runtime.require_diagnosis()
        flow = diagnosis.library.get(state.get("root_flow") or state.get("flow") or "")
        summary = f"Customer asked for a person: {turn.text[:500]}"
        if state.get("trail"):
            summary += "\n" + summarize_trail(state["trail"], flow_title=flow.title if flow else "")
        async with runtime.database.session() as session:
            ticket = await tickets.open_ticket(
                session=session,
                conversation_id=tracker.sender_id,
                domain=flow.domain if flow else "other",
                title="Customer asked for a person (callback)",
                summary=summary,
                tier=2,
                priority="high",
            )
            number = ticket.number
        dispatcher.utter_message(
            text="Of course. No agent can join this chat right now, so I've opened ticket "
            f"{number} with everything we've covered, and a person will call you back."
        )
        return [
            SlotSet("ticket_number", number),
            SlotSet("flow_state", None),
            SlotSet("active_flow", None),
        ]
