"""Helpers shared by the actions: reading the tracker, writing replies."""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from api.runtime import runtime
from api.services.agents import SKILLS
from api.services.diagnosis import DiagnosisResult, HandoffRequest
from bot.flows.engine import CustomerTurn, Reply


def customer_turn(tracker: Tracker) -> CustomerTurn:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name") or ""
    entities = [
        {"entity": e.get("entity"), "value": e.get("value")}
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
    )


def flow_state(tracker: Tracker) -> Optional[dict[str, Any]]:
    state = tracker.get_slot("flow_state")
    return state if isinstance(state, dict) else None


def send(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    for reply in replies:
        if reply.buttons:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=reply.text)


async def queue_for_person(
    dispatcher: CollectingDispatcher, tracker: Tracker, request: HandoffRequest
) -> list[EventType]:
    """Put the conversation in the queue for a person, tell the customer, pause the bot."""
    desk = runtime.require_desk()
    notice = await desk.request(
        conversation_id=tracker.sender_id,
        reason=request.reason,
        flow_state=request.flow_state,
        library=runtime.require_diagnosis().library,
        tier=request.tier,
        skill=request.skill if request.skill in SKILLS else "other",
        priority=request.priority,
    )
    send(dispatcher, [Reply(notice.text, notice.buttons)])
    # The bot stays out of the chat until an agent hands it back (which resumes it).
    return [
        SlotSet("flow_state", None),
        SlotSet("active_flow", None),
        SlotSet("fallback_count", 0.0),
        ConversationPaused(),
    ]


def awaiting_free_answer(tracker: Tracker) -> bool:
    """Whether the running flow waits for a typed value (an account number, a code).

    Such values are easily mistaken for another request by the NLU ("ACC-1002"
    looks like a ticket number); the flow should get them.
    """
    state = flow_state(tracker)
    if not state or not state.get("flow"):
        return False
    flow = runtime.require_diagnosis().library.get(state["flow"])
    step = flow.steps.get(state.get("step", "")) if flow else None
    return step is not None and step.kind == "ask_value"


async def result_events(
    dispatcher: CollectingDispatcher, tracker: Tracker, result: DiagnosisResult
) -> list[EventType]:
    """Send a diagnosis result's replies and return the slot events that keep its state."""
    for response in result.responses:
        dispatcher.utter_message(response=response)
    send(dispatcher, result.replies)
    events: list[EventType] = []
    if result.ticket_number:
        events.append(SlotSet("ticket_number", result.ticket_number))
    if result.handoff is not None:
        return events + await queue_for_person(dispatcher, tracker, result.handoff)
    return events + [
        SlotSet("flow_state", result.flow_state),
        SlotSet("active_flow", result.active_flow),
        SlotSet("fallback_count", float(result.fallback_count)),
    ]
