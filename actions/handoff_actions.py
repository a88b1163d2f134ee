"""The customer asked for a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import ServiceAction
from actions.turns import chat_turn, result_events


class ActionRequestHuman(ServiceAction):
    """Queue the conversation for a person, with a summary of what was tried."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.request_person(chat_turn(tracker))
        return result_events(dispatcher, result)
