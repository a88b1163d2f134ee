"""A conversation through the custom actions without Rasa: each message goes to the
action the rules in data/rules/ pick for its intent, and the slots it sets are kept
for the next message, the way Rasa's tracker keeps them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.flow_actions import ActionFlowContinue, ActionFlowStart
from actions.handoff_actions import ActionRequestHuman
from actions.part_actions import ActionOrderPart
from actions.ticket_actions import ActionOpenTicket, ActionTicketStatus
from actions.turns import chat_turn, result_events
from actions.visit_actions import ActionBookVisit, ActionManageVisit
from api.wiring import Services

TICKET = re.compile(r"TCK-\d{6}")
ROUTES: dict[str, type[Action]] = {
    "problem_internet": ActionFlowStart,
    "problem_cable": ActionFlowStart,
    "problem_hardware": ActionFlowStart,
    "problem_software": ActionFlowStart,
    "order_part": ActionOrderPart,
    "book_visit": ActionBookVisit,
    "reschedule_visit": ActionManageVisit,
    "cancel_visit": ActionManageVisit,
    "ticket_status": ActionTicketStatus,
    "open_ticket": ActionOpenTicket,
    "request_human": ActionRequestHuman,
}


@dataclass
class Turn:
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.messages)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.messages for b in m.get("buttons") or []]

    def button(self, title_part: str) -> dict[str, str]:
        for candidate in self.buttons:
            if title_part.lower() in candidate["title"].lower():
                return candidate
        raise AssertionError(f"no button like {title_part!r} in {self.buttons}")


class OfflineChat:
    def __init__(self, sender: str, services: Services, language: str = "en") -> None:
        self.sender = sender
        self.services = services
        self.language = language
        self.slots: dict[str, Any] = {}
        self.turns: list[Turn] = []
        self._count = 0

    def _tracker(
        self, text: str, intent: str, entities: list[dict[str, Any]], likely: tuple[str, ...] = ()
    ) -> Tracker:
        self._count += 1
        message = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": name} for name in likely],
            "entities": entities,
            "message_id": f"{self.sender}-m{self._count}",
            "metadata": {"language": self.language},
        }
        return Tracker(self.sender, dict(self.slots), message, [], False, None, {}, None)

    def _keep(self, dispatcher: CollectingDispatcher, events: list[Any]) -> Turn:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        turn = Turn(list(dispatcher.messages))
        self.turns.append(turn)
        return turn

    async def say(
        self, text: str, intent: str = "inform", likely: tuple[str, ...] = (), **entities: str
    ) -> Turn:
        """The customer's message as the NLU read it; `likely` ranks the intents behind
        a not-understood one."""
        listed = [{"entity": k, "value": v} for k, v in entities.items()]
        tracker = self._tracker(text, intent, listed, likely)
        dispatcher = CollectingDispatcher()
        action = ROUTES.get(intent, ActionFlowContinue)(self.services)
        events = await action.run(dispatcher, tracker, {})
        return self._keep(dispatcher, events)

    async def start(self, flow_id: str, slots: Optional[dict[str, Any]] = None) -> Turn:
        """The customer's problem already chosen: start its flow (as flow choice would)."""
        dispatcher = CollectingDispatcher()
        chat = chat_turn(self._tracker("", "", []))
        result = await self.services.requests.start_operation(chat, flow_id, slots or {})
        return self._keep(dispatcher, result_events(dispatcher, result))


def ticket_numbers(turn: Turn) -> list[str]:
    """Every ticket number the turn's messages name, in order (repeats kept)."""
    return TICKET.findall(turn.text)
