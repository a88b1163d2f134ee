"""Runs a diagnostic flow one customer turn at a time.

The engine is pure: it takes the flow state (a JSON-friendly dict kept in the
conversation), what the customer said, and a way to run named system checks,
and returns what to say, the new state, the events to record and, at the end,
the outcome to carry out. Carrying out outcomes (opening a ticket, ordering a
part, handing off) is the caller's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from bot.flows.choosing import FlowChooser
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.model import Flow, Step

CheckRunner = Callable[[str, dict[str, Any]], Awaitable[str]]

MAX_AUTOMATIC_STEPS = 50
MISSES_BEFORE_OFFERING_A_PERSON = 2
YES_INTENTS = {"affirm", "problem_fixed"}
NO_INTENTS = {"deny", "problem_persists"}
YES_WORDS = {"yes", "y", "yeah", "yep", "yup", "sure", "correct", "ja", "ok", "okay", "right"}
NO_WORDS = {"no", "n", "nope", "nah", "not", "nein", "negative"}
PROBLEM_INTENTS = {"problem_internet", "problem_cable", "problem_hardware", "problem_software"}


@dataclass
class CustomerTurn:
    """What the customer said, as NLU understood it."""

    text: str = ""
    intent: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    # How sure the NLU was of the intent (0-1); buttons and payloads are sure.
    confidence: float = 1.0
    # The NLU's intent ranking without nlu_fallback, most likely first: what the
    # customer probably meant when the intent itself was not confident enough.
    likely_intents: tuple[str, ...] = ()

    def entity(self, name: str) -> Optional[str]:
        for item in self.entities:
            if item.get("entity") == name and item.get("value") not in (None, ""):
                return str(item["value"])
        return None


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Outcome:
    """How the flow ended; the caller carries it out."""

    kind: str
    step_id: str
    flow_id: str
    domain: str
    options: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    trail: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass
class FlowEventRecord:
    kind: str  # step | answer | outcome | back | restart | skip | miss
    flow_id: str
    step_id: str
    value: Optional[str] = None


@dataclass
class TurnResult:
    replies: list[Reply] = field(default_factory=list)
    state: Optional[dict[str, Any]] = None
    outcome: Optional[Outcome] = None
    events: list[FlowEventRecord] = field(default_factory=list)
    # True when the turn was not an answer to the running flow (e.g. a new
    # problem); the caller decides what to do with it.
    not_understood: bool = False
    offer_person: bool = False


SLOT_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def fill_in(text: str, slots: dict[str, Any]) -> str:
    """Replace `{slot}` with the slot's value; unknown names stay as written."""

    def value(match: re.Match[str]) -> str:
        found = slots.get(match.group(1))
        return match.group(0) if found is None else str(found)

    return SLOT_REFERENCE.sub(value, text)


def choice_payload(value: str) -> str:
    return "/inform" + json.dumps({"choice": value}, separators=(",", ":"))


def _normalise(text: str) -> str:
    return " " + re.sub(r"[^\w]+", " ", text.lower()).strip() + " "


def match_choice(step: Step, turn: CustomerTurn) -> Optional[str]:
    """The choice the customer picked, by button payload, entity or wording."""
    values = {c.value for c in step.choices}
    picked = turn.entity("choice")
    if picked in values:
        return picked
    text = _normalise(turn.text)
    best: Optional[tuple[int, str]] = None
    for choice in step.choices:
        for phrase in (choice.value, choice.title, *choice.synonyms):
            needle = _normalise(phrase)
            if needle.strip() and needle in text:
                length = len(needle)
                if best is None or length > best[0]:
                    best = (length, choice.value)
    if best:
        return best[1]
    for name in ("light_color", "light_state"):
        value = turn.entity(name)
        if value:
            for choice in step.choices:
                if value.lower() in {s.lower() for s in (choice.value, *choice.synonyms)}:
                    return choice.value
    return None


def match_yes_no(turn: CustomerTurn) -> Optional[bool]:
    if turn.intent in YES_INTENTS:
        return True
    if turn.intent in NO_INTENTS:
        return False
    # The first yes- or no-word decides: "yes, no problem" is a yes.
    for word in _normalise(turn.text).split():
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
    return None


class FlowEngine:
    """Starts flows and advances them; see the module docstring."""

    def __init__(
        self,
        library: FlowLibrary,
        run_check: CheckRunner,
        encoder: Optional[SentenceEncoder] = None,
    ) -> None:
        self.library = library
        self.run_check = run_check
        # Understands free text by meaning; without one, wording and keywords decide.
        self.encoder = encoder
        self.chooser = FlowChooser(library, encoder)

    # ----------------------------------------------------------------- choosing

    def select_flow(self, turn: CustomerTurn) -> Optional[Flow]:
        """The flow that fits the customer's problem best (bot/flows/choosing.py)."""
        return self.chooser.choose(
            text=turn.text,
            intent=turn.intent,
            confidence=turn.confidence,
            likely_intents=turn.likely_intents,
        )

    # ----------------------------------------------------------------- starting

    async def start(self, flow: Flow, *, slots: Optional[dict[str, Any]] = None) -> TurnResult:
        state = {
            "flow": flow.id,
            "step": flow.start,
            "stack": [],
            "history": [],
            "slots": dict(slots or {}),
            "trail": [],
            "misses": 0,
        }
        result = TurnResult(events=[FlowEventRecord("start", flow.id, flow.start)])
        await self._run_until_input(state, flow.start, result)
        return result

    def current_question(self, state: dict[str, Any]) -> list[Reply]:
        """The question the running flow is waiting on, to ask it again."""
        flow = self.library.get(state.get("flow", ""))
        if flow is None or state.get("step") not in flow.steps:
            return []
        return self._ask(flow.step(state["step"]), state.get("slots", {}))

    # ---------------------------------------------------------------- answering

    async def answer(self, state: dict[str, Any], turn: CustomerTurn) -> TurnResult:
        """Advance the running flow with the customer's turn."""
        state = json.loads(json.dumps(state))  # never mutate the caller's copy
        flow = self.library.get(state["flow"])
        result = TurnResult()
        if flow is None or state["step"] not in flow.steps:
            # The flow was renamed or removed while the customer was in it.
            result.not_understood = True
            return result
        step = flow.step(state["step"])

        if turn.intent == "start_over":
            state.update(step=self._root_start(state), stack=[], history=[], trail=[], misses=0)
            state["flow"] = state.get("root_flow", state["flow"])
            result.events.append(FlowEventRecord("restart", state["flow"], state["step"]))
            result.replies.append(Reply("No problem, let's start again from the beginning."))
            await self._run_until_input(state, state["step"], result)
            return result
        if turn.intent == "go_back":
            return await self._go_back(state, flow, result)
        if turn.intent == "explain_term":
            return self._explain(state, flow, step, turn, result)
        if turn.intent == "already_tried":
            target = step.skip or step.no or step.next
            if target:
                self._remember(state, step, "already tried")
                result.events.append(FlowEventRecord("skip", flow.id, step.id))
                result.replies.append(Reply("Thanks, then let's skip that."))
                await self._run_until_input(state, target, result)
                return result

        target = self._target_for_answer(state, flow, step, turn, result)
        if target is None:
            return self._miss(state, flow, step, turn, result)
        state["misses"] = 0
        await self._run_until_input(state, target, result)
        return result

    def _target_for_answer(
        self,
        state: dict[str, Any],
        flow: Flow,
        step: Step,
        turn: CustomerTurn,
        result: TurnResult,
    ) -> Optional[str]:
        if step.kind == "ask_choice":
            value = match_choice(step, turn)
            if value is None:
                return None
            choice = next(c for c in step.choices if c.value == value)
            state["slots"][step.id] = value
            self._remember(state, step, choice.title)
            result.events.append(FlowEventRecord("answer", flow.id, step.id, value))
            return choice.next or step.next
        if step.kind == "ask_yes_no":
            said_yes = match_yes_no(turn)
            if said_yes is None:
                return None
            state["slots"][step.id] = said_yes
            self._remember(state, step, "yes" if said_yes else "no")
            result.events.append(FlowEventRecord("answer", flow.id, step.id, str(said_yes).lower()))
            return step.yes if said_yes else step.no
        if step.kind == "ask_value":
            if turn.intent in PROBLEM_INTENTS | {"request_human", "deny"} and not turn.entities:
                return None
            value = turn.entity(step.slot or "") or turn.text.strip()[:200]
            if not value:
                return None
            state["slots"][step.slot or step.id] = value
            self._remember(state, step, value)
            result.events.append(FlowEventRecord("answer", flow.id, step.id, value))
            return step.next
        return None

    def _miss(
        self, state: dict[str, Any], flow: Flow, step: Step, turn: CustomerTurn, result: TurnResult
    ) -> TurnResult:
        if turn.intent == "problem_fixed":
            state["misses"] = 0
            result.events.append(FlowEventRecord("outcome", flow.id, step.id, "resolved"))
            result.outcome = Outcome(
                "resolved",
                step.id,
                state.get("root_flow", flow.id),
                flow.domain,
                trail=list(state["trail"]),
                slots=dict(state["slots"]),
            )
            result.state = None
            return result
        result.not_understood = True
        result.state = state
        if turn.intent in PROBLEM_INTENTS:
            return result  # maybe a new problem; the caller decides
        state["misses"] = state.get("misses", 0) + 1
        result.events.append(FlowEventRecord("miss", flow.id, step.id, turn.text[:200]))
        result.offer_person = state["misses"] >= MISSES_BEFORE_OFFERING_A_PERSON
        hint = "Sorry, I didn't catch that. "
        if step.kind == "ask_choice":
            hint += "Please pick one of the options, or describe it in your own words."
        elif step.kind == "ask_yes_no":
            hint += "Please answer yes or no."
        else:
            hint += "Could you type it again?"
        result.replies.append(Reply(hint))
        result.replies.extend(self._ask(step, state["slots"]))
        return result

    async def _go_back(self, state: dict[str, Any], flow: Flow, result: TurnResult) -> TurnResult:
        if not state["history"]:
            result.replies.append(Reply("We're at the first question already."))
            result.replies.extend(self._ask(flow.step(state["step"]), state["slots"]))
            result.state = state
            return result
        previous = state["history"].pop()
        state["flow"] = previous["flow"]
        state["stack"] = previous["stack"]
        if state["trail"]:
            state["trail"].pop()
        state["step"] = previous["step"]
        result.events.append(FlowEventRecord("back", state["flow"], previous["step"]))
        result.replies.append(Reply("Sure, let's go back one step."))
        back_flow = self.library.get(state["flow"]) or flow
        result.replies.extend(self._ask(back_flow.step(previous["step"]), state["slots"]))
        result.state = state
        return result

    def _explain(
        self, state: dict[str, Any], flow: Flow, step: Step, turn: CustomerTurn, result: TurnResult
    ) -> TurnResult:
        term = (turn.entity("term") or "").lower()
        glossary = self.library.glossary
        explanation = glossary.get(term)
        if explanation is None:
            words = _normalise(turn.text)
            for known, text in glossary.items():
                if _normalise(known) in words:
                    term, explanation = known, text
                    break
        if explanation:
            result.replies.append(Reply(f"{term.capitalize()}: {explanation}"))
        else:
            result.replies.append(
                Reply(
                    "Sorry, I don't have an explanation for that term. "
                    "You can ask me to connect you to a person."
                )
            )
        result.replies.extend(self._ask(step, state["slots"]))
        result.state = state
        return result

    # ---------------------------------------------------------------- stepping

    def _root_start(self, state: dict[str, Any]) -> str:
        root = self.library.get(state.get("root_flow", state["flow"]))
        return root.start if root else state["step"]

    def _remember(self, state: dict[str, Any], step: Step, answer: str) -> None:
        state["history"].append(
            {"flow": state["flow"], "step": step.id, "stack": list(state["stack"])}
        )
        state["trail"].append(
            {"flow": state["flow"], "step": step.id, "label": step.summary_label, "answer": answer}
        )

    async def _run_until_input(
        self, state: dict[str, Any], step_id: Optional[str], result: TurnResult
    ) -> None:
        """Follow steps that need no answer until one does, or the flow ends."""
        state.setdefault("root_flow", state["flow"])
        for _ in range(MAX_AUTOMATIC_STEPS):
            flow = self.library.get(state["flow"])
            if flow is None:
                raise LookupError(f"unknown flow {state['flow']!r}")
            if step_id is None:
                if state["stack"]:
                    frame = state["stack"].pop()
                    state["flow"] = frame["flow"]
                    step_id = frame["next"]
                    continue
                raise LookupError(f"flow {flow.id!r} ends without an outcome")
            step = flow.step(step_id)
            state["step"] = step.id
            result.events.append(FlowEventRecord("step", flow.id, step.id))
            if step.kind == "outcome":
                if step.warning:
                    result.replies.append(Reply(f"⚠️ Safety first: {step.warning}"))
                result.outcome = Outcome(
                    kind=step.outcome or "resolved",
                    step_id=step.id,
                    flow_id=state.get("root_flow", flow.id),
                    domain=(self.library.get(state.get("root_flow", flow.id)) or flow).domain,
                    options=dict(step.options),
                    message=fill_in(step.text, state["slots"]),
                    trail=list(state["trail"]),
                    slots=dict(state["slots"]),
                )
                result.events.append(FlowEventRecord("outcome", flow.id, step.id, step.outcome))
                result.state = None
                return
            if step.waits_for_customer:
                result.replies.extend(self._say(step, state["slots"]))
                result.replies.extend(self._ask(step, state["slots"]))
                result.state = state
                return
            if step.kind == "say":
                result.replies.extend(self._say(step, state["slots"]))
                step_id = step.next
            elif step.kind == "check":
                outcome = await self.run_check(step.check or "", state["slots"])
                state["slots"][step.id] = outcome
                result.events.append(FlowEventRecord("answer", flow.id, step.id, outcome))
                step_id = step.results.get(outcome) or step.results.get("default")
                if step_id is None:
                    raise LookupError(f"step {step.id!r} has no branch for result {outcome!r}")
            elif step.kind == "branch":
                step_id = next(
                    (target for cond, target in step.branches if cond.holds(state["slots"])),
                    step.otherwise,
                )
            elif step.kind == "call":
                callee = self.library.get(step.call or "")
                if callee is None:
                    raise LookupError(f"step {step.id!r} calls unknown flow {step.call!r}")
                state["stack"].append({"flow": flow.id, "next": step.next})
                state["flow"] = callee.id
                step_id = callee.start
            elif step.kind == "return":
                if not state["stack"]:
                    raise LookupError(f"step {step.id!r} returns, but no flow called this one")
                frame = state["stack"].pop()
                state["flow"] = frame["flow"]
                step_id = frame["next"]
        raise LookupError("the flow kept going without asking anything; is there a cycle?")

    @staticmethod
    def _say(step: Step, slots: dict[str, Any]) -> list[Reply]:
        replies = []
        if step.warning:
            replies.append(Reply(f"⚠️ Safety first: {fill_in(step.warning, slots)}"))
        if step.text:
            text = fill_in(step.text, slots) + (f"\n{step.image}" if step.image else "")
            replies.append(Reply(text))
        return replies

    @staticmethod
    def _ask(step: Step, slots: dict[str, Any]) -> list[Reply]:
        question = fill_in(step.question, slots)
        if step.kind == "ask_choice":
            buttons = [{"title": c.title, "payload": choice_payload(c.value)} for c in step.choices]
            return [Reply(question, buttons)]
        if step.kind == "ask_yes_no":
            return [
                Reply(
                    question,
                    [
                        {"title": "Yes", "payload": "/affirm"},
                        {"title": "No", "payload": "/deny"},
                    ],
                )
            ]
        if step.kind == "ask_value":
            return [Reply(question)]
        return []


def summarize_trail(trail: list[dict[str, Any]], *, flow_title: str = "") -> str:
    """A short, human-readable account of the steps tried and the answers given."""
    lines = [f"Diagnosis: {flow_title}"] if flow_title else []
    for item in trail:
        label = item.get("label") or item.get("step", "")
        lines.append(f"- {label} → {item.get('answer')}")
    if len(lines) <= (1 if flow_title else 0):
        lines.append("- No diagnostic steps were completed.")
    return "\n".join(lines)
