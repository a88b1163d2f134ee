"""The customer asks for a replacement part."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import ServiceAction
from actions.turns import chat_turn, result_events


class ActionOrderPart(ServiceAction):
    """Start the part order flow: identify, find the part, quote, confirm, order."""

    def name(self) -> str:
        return "action_order_part"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.order_part(chat_turn(tracker))
        return result_events(dispatcher, result)
