"""Helpers shared by the actions: reading the tracker, writing replies and events."""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from api.services.chat_requests import ChatTurn
from api.services.diagnosis import DiagnosisResult
from bot.flows.engine import CustomerTurn, Reply
from bot.wording import language_of


def language(tracker: Tracker) -> str:
    """The conversation's language, as the API sent it with the message ("en" or "de")."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return language_of(metadata.get("language", "en") if isinstance(metadata, dict) else "en")


def customer_turn(tracker: Tracker) -> CustomerTurn:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name") or ""
    entities = [
        {
            "entity": e.get("entity"),
            "value": e.get("value"),
            # Where in the text: the customer's own words, before synonyms normalised them.
            **{k: e[k] for k in ("start", "end") if isinstance(e.get(k), int)},
        }
        for e in message.get("entities") or []
        if isinstance(e, dict)
    ]
    likely = tuple(
        str(ranked["name"])
        for ranked in message.get("intent_ranking") or []
        if isinstance(ranked, dict) and ranked.get("name") not in (None, "", "nlu_fallback")
    )
    confidence = (message.get("intent") or {}).get("confidence")
    return CustomerTurn(
        text=message.get("text") or "",
        intent=intent,
        entities=entities,
        likely_intents=likely,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else 1.0,
        language=language(tracker),
    )


def flow_state(tracker: Tracker) -> Optional[dict[str, Any]]:
    state = tracker.get_slot("flow_state")
    return state if isinstance(state, dict) else None


def chat_turn(tracker: Tracker) -> ChatTurn:
    """Everything the chat services need to know about this message."""
    ticket_number = tracker.get_slot("ticket_number")
    return ChatTurn(
        conversation_id=tracker.sender_id,
        turn=customer_turn(tracker),
        flow_state=flow_state(tracker),
        ticket_number=str(ticket_number) if ticket_number else None,
        fallback_count=int(tracker.get_slot("fallback_count") or 0),
        frustration_count=int(tracker.get_slot("frustration_count") or 0),
        message_id=(tracker.latest_message or {}).get("message_id"),
        language=language(tracker),
    )


def send(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    for reply in replies:
        if reply.buttons:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=reply.text)


def result_events(dispatcher: CollectingDispatcher, result: DiagnosisResult) -> list[EventType]:
    """Send a result's replies and return the slot events that keep its state."""
    for response in result.responses:
        dispatcher.utter_message(response=response)
    send(dispatcher, result.replies)
    events: list[EventType] = []
    if result.frustration_count is not None:
        events.append(SlotSet("frustration_count", float(result.frustration_count)))
    if result.ticket_number:
        events.append(SlotSet("ticket_number", result.ticket_number))
    if result.queued:
        # The bot stays out of the chat until an agent hands it back (which resumes it).
        return events + [
            SlotSet("flow_state", None),
            SlotSet("active_flow", None),
            SlotSet("fallback_count", 0.0),
            ConversationPaused(),
        ]
    if not result.sets_flow:
        return events
    return events + [
        SlotSet("flow_state", result.flow_state),
        SlotSet("active_flow", result.active_flow),
        SlotSet("fallback_count", float(result.fallback_count)),
    ]
