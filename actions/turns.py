"""Helpers shared by the actions: reading the tracker, writing replies."""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.engine import CustomerTurn, Reply


def customer_turn(tracker: Tracker) -> CustomerTurn:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name") or ""
    entities = [
        {"entity": e.get("entity"), "value": e.get("value")}
        for e in message.get("entities") or []
        if isinstance(e, dict)
    ]
    return CustomerTurn(text=message.get("text") or "", intent=intent, entities=entities)


def flow_state(tracker: Tracker) -> Optional[dict[str, Any]]:
    state = tracker.get_slot("flow_state")
    return state if isinstance(state, dict) else None


def send(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    for reply in replies:
        if reply.buttons:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=reply.text)
