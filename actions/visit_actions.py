"""Technician visits from the chat: book a slot the customer picked, reschedule, cancel."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import ServiceAction
from actions.turns import chat_turn, result_events


class ActionBookVisit(ServiceAction):
    """Without a slot: start the booking flow. With a picked slot: book it."""

    def name(self) -> str:
        return "action_book_visit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.book_visit(chat_turn(tracker))
        return result_events(dispatcher, result)


class ActionManageVisit(ServiceAction):
    """Reschedule or cancel the customer's visit."""

    def name(self) -> str:
        return "action_manage_visit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.manage_visit(chat_turn(tracker))
        return result_events(dispatcher, result)
