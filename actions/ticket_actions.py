"""Actions for tickets: opening one on request and telling its status."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import ServiceAction
from actions.turns import chat_turn, result_events


class ActionOpenTicket(ServiceAction):
    """Open a ticket for what the customer asked, with what was tried so far."""

    def name(self) -> str:
        return "action_open_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.open_ticket(chat_turn(tracker))
        return result_events(dispatcher, result)


class ActionTicketStatus(ServiceAction):
    """Tell the customer the status of one of their own tickets, with its order or visit."""

    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = await self.services.requests.ticket_status(chat_turn(tracker))
        return result_events(dispatcher, result)
