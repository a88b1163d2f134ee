"""The customer asks for a replacement part."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.customer_actions import start_customer_flow
from actions.turns import customer_turn
from api.services import catalog


class ActionOrderPart(Action):
    """Start the part order flow: identify, find the part, quote, confirm, order."""

    def name(self) -> str:
        return "action_order_part"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = customer_turn(tracker)
        slots: dict[str, Any] = {}
        named = turn.entity("part_number")
        if named and catalog.find_part(named):
            slots["part_number"] = catalog.find_part(named).part_number  # type: ignore[union-attr]
        return await start_customer_flow(dispatcher, tracker, "request_part", slots)
