"""Starting the operation flows that need to know who the customer is.

Identification itself is the `identify_customer` sub-flow (data/flows/), which
those flows call first; this module only starts them and turns the result
into Rasa events, like the diagnostic flow actions do.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import result_events
from api.runtime import runtime


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
