"""Actions that run the diagnostic flows (see data/flows/ and bot/flows/)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import customer_turn, flow_state, queue_for_person, send
from api.runtime import runtime


class _RunsFlowTurn:
    """Shared body of the flow actions (not an Action itself, so not registered)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        diagnosis = runtime.require_diagnosis()
        fallback_count = int(tracker.get_slot("fallback_count") or 0)
        async with runtime.database.session() as session:
            result = await diagnosis.handle_turn(
                session=session,
                conversation_id=tracker.sender_id,
                flow_state=flow_state(tracker),
                turn=customer_turn(tracker),
                fallback_count=fallback_count,
            )
        send(dispatcher, result.replies)
        events: list[EventType] = []
        if result.ticket_number:
            events.append(SlotSet("ticket_number", result.ticket_number))
        if result.handoff is not None:
            return events + await queue_for_person(dispatcher, tracker, result.handoff)
        return events + [
            SlotSet("flow_state", result.flow_state),
            SlotSet("active_flow", result.active_flow),
            SlotSet("fallback_count", float(result.fallback_count)),
        ]


class ActionFlowStart(_RunsFlowTurn, Action):
    """The customer reported a problem: start (or switch to) the best-fitting flow."""

    def name(self) -> str:
        return "action_flow_start"


class ActionFlowContinue(_RunsFlowTurn, Action):
    """The customer answered, steered or was not understood: advance the running flow."""

    def name(self) -> str:
        return "action_flow_continue"
