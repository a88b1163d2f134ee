"""The customer asked for a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import customer_turn, flow_state, queue_for_person
from api.runtime import runtime
from api.services.diagnosis import INTENT_DOMAINS, HandoffRequest


class ActionRequestHuman(Action):
    """Queue the conversation for a person, with a summary of what was tried."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        state = flow_state(tracker)
        diagnosis = runtime.require_diagnosis()
        flow = diagnosis.library.get((state or {}).get("root_flow") or "")
        skill = flow.domain if flow else INTENT_DOMAINS.get(customer_turn(tracker).intent, "other")
        request = HandoffRequest(
            reason="customer asked for a person", skill=skill, flow_state=state
        )
        return await queue_for_person(dispatcher, tracker, request)
