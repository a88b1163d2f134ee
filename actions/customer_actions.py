"""Starting the operation flows that need to know who the customer is.

Identification itself is the `identify_customer` sub-flow (data/flows/), which
those flows call first; this module only starts them and turns the result
into Rasa events, like the diagnostic flow actions do.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import queue_for_person, send
from api.runtime import runtime
from api.services.diagnosis import DiagnosisResult


async def result_events(
    dispatcher: CollectingDispatcher, tracker: Tracker, result: DiagnosisResult
) -> list[EventType]:
    send(dispatcher, result.replies)
    events: list[EventType] = []
    if result.ticket_number:
        events.append(SlotSet("ticket_number", result.ticket_number))
    if result.handoff is not None:
        return events + await queue_for_person(dispatcher, tracker, result.handoff)
    return events + [
        SlotSet("flow_state", result.flow_state),
        SlotSet("active_flow", result.active_flow),
        SlotSet("fallback_count", 0.0),
    ]


async def start_customer_flow(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    flow_id: str,
    slots: Optional[dict[str, Any]] = None,
) -> list[EventType]:
    """Start an operation flow (it identifies the customer first if needed)."""
    diagnosis = runtime.require_diagnosis()
    carried = dict(slots or {})
    # A visit belongs to the ticket of the problem discussed in this chat; a part
    # order finds (or opens) its own ticket by the repeat-contact rule.
    if flow_id != "request_part" and tracker.get_slot("ticket_number"):
        carried.setdefault("ticket_number", tracker.get_slot("ticket_number"))
    async with runtime.database.session() as session:
        result = await diagnosis.start_flow(
            session=session, conversation_id=tracker.sender_id, flow_id=flow_id, slots=carried
        )
    return await result_events(dispatcher, tracker, result)
