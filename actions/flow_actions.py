"""Actions that run the diagnostic flows (see data/flows/ and bot/flows/)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import customer_turn, flow_state, result_events
from api.runtime import runtime
from api.services.diagnosis import PERSON_BUTTON
from bot.flows.engine import Reply
from bot.frustration import shows_frustration


class _RunsFlowTurn:
    """Shared body of the flow actions (not an Action itself, so not registered)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        diagnosis = runtime.require_diagnosis()
        turn = customer_turn(tracker)
        fallback_count = int(tracker.get_slot("fallback_count") or 0)
        async with runtime.database.session() as session:
            result = await diagnosis.handle_turn(
                session=session,
                conversation_id=tracker.sender_id,
                flow_state=flow_state(tracker),
                turn=turn,
                fallback_count=fallback_count,
            )
        frustration = int(tracker.get_slot("frustration_count") or 0)
        if not shows_frustration(turn.text, turn.intent):
            frustration = 0  # a calm message ends the episode: no apology for it
        elif result.handoff is None:
            frustration += 1
            respond_to_frustration(result.replies, frustration)
        events: list[EventType] = [SlotSet("frustration_count", float(frustration))]
        return events + await result_events(dispatcher, tracker, result)


def respond_to_frustration(replies: list[Reply], times: int) -> None:
    """One apology per episode of frustration (its first message); at its second
    message a person is offered, unless this turn already offers one."""
    already_sorry = any("sorry" in r.text.lower() for r in replies)
    person_offered = any(PERSON_BUTTON in r.buttons for r in replies)
    if times == 1 and not already_sorry:
        replies.insert(0, Reply("I'm sorry this is costing you so much time. Let's get it fixed."))
    elif times == 2 and not person_offered:
        replies.append(
            Reply(
                "Would you rather talk to a person? They will see everything we've done so far.",
                [PERSON_BUTTON],
            )
        )


class ActionFlowStart(_RunsFlowTurn, Action):
    """The customer reported a problem: start (or switch to) the best-fitting flow."""

    def name(self) -> str:
        return "action_flow_start"


class ActionFlowContinue(_RunsFlowTurn, Action):
    """The customer answered, steered or was not understood: advance the running flow."""

    def name(self) -> str:
        return "action_flow_continue"
