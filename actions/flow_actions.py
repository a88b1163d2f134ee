"""Actions that run the diagnostic flows (see data/flows/ and bot/flows/)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import ServiceAction
from actions.turns import chat_turn, result_events


class ActionFlowStart(ServiceAction):
    """The customer reported a problem: start (or switch to) the best-fitting flow."""

    def name(self) -> str:
        return "action_flow_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.flow_turn(chat_turn(tracker))
        return result_events(dispatcher, result)


class ActionFlowContinue(ServiceAction):
    """The customer answered, steered or was not understood: advance the running flow."""

    def name(self) -> str:
        return "action_flow_continue"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.flow_turn(chat_turn(tracker))
        return result_events(dispatcher, result)
