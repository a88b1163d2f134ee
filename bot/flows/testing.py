"""Runs the sample conversations that each flow carries under `tests:`.

A test gives the customer's turns and the steps and outcome it expects:

    tests:
      - name: a restart fixes it
        checks: {service_outage: none}     # what each lookup answers (a list: in turn)
        turns: [green, "yes"]              # text, or {intent: …, text: …, choice: …}
        language: de                       # optional: the customer writes German
        opener: my router blinks orange    # optional: the first message (`from_message`)
        expect_steps: [outage, lights, restart, fixed]
        expect_outcome: resolved

Turns are matched the way the engine matches customer text (choices and their
synonyms); the words yes, no, fixed, still broken, back, start over and
already tried (and in German ja, nein, geht wieder, geht immer noch nicht,
zurück, von vorn and schon versucht) stand for those intents. After an outcome
with `still_broken`, a turn saying it is still not working goes on there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from bot.flows.engine import CustomerTurn, FlowEngine, says_still_broken
from bot.flows.loader import FlowLibrary
from bot.flows.model import Flow

SHORTHAND_INTENTS = {
    "yes": "affirm",
    "no": "deny",
    "fixed": "problem_fixed",
    "it works now": "problem_fixed",
    "still broken": "problem_persists",
    "back": "go_back",
    "go back": "go_back",
    "start over": "start_over",
    "already tried": "already_tried",
    "a person": "request_human",
    "ja": "affirm",
    "nein": "deny",
    "geht wieder": "problem_fixed",
    "geht immer noch nicht": "problem_persists",
    "zurück": "go_back",
    "von vorn": "start_over",
    "schon versucht": "already_tried",
    "einen menschen": "request_human",
}


@dataclass
class FlowTestResult:
    flow_id: str
    name: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    outcome: Optional[str] = None


def to_turn(raw: Any, language: str = "en") -> CustomerTurn:
    if isinstance(raw, dict):
        entities = []
        if raw.get("choice") is not None:
            entities.append({"entity": "choice", "value": str(raw["choice"])})
        for name, value in (raw.get("entities") or {}).items():
            entities.append({"entity": name, "value": value})
        return CustomerTurn(
            text=str(raw.get("text", "")),
            intent=str(raw.get("intent", "inform")),
            entities=entities,
            language=language,
        )
    text = str(raw)
    return CustomerTurn(
        text=text,
        intent=SHORTHAND_INTENTS.get(text.lower().strip(), "inform"),
        language=language,
    )


async def run_flow_test(library: FlowLibrary, flow: Flow, test: dict[str, Any]) -> FlowTestResult:
    # A check answers one result, or a list of them in turn (the last one repeats).
    answers = {
        str(k): [str(x) for x in v] if isinstance(v, list) else [str(v)]
        for k, v in (test.get("checks") or {}).items()
    }

    async def run_check(name: str, slots: dict[str, Any]) -> str:
        given = answers.get(name) or ["unknown"]
        return given.pop(0) if len(given) > 1 else given[0]

    engine = FlowEngine(library, run_check)
    name = str(test.get("name", "unnamed"))
    result = FlowTestResult(flow_id=flow.id, name=name, passed=False)
    language = str(test.get("language") or "en")
    try:
        opener = CustomerTurn(text=str(test.get("opener") or ""), language=language)
        turn_result = await engine.start(flow, slots=dict(test.get("slots") or {}), turn=opener)
        results = [turn_result]
        for raw in test.get("turns") or []:
            turn = to_turn(raw, language)
            if turn_result.state is None:
                after = turn_result.outcome.after if turn_result.outcome else None
                if after is not None and says_still_broken(turn):
                    # "Still not working" after an outcome with `still_broken`.
                    turn_result = await engine.continue_after(after, turn)
                    results.append(turn_result)
                    continue
                result.problems.append(f"the flow ended before the turn {raw!r}")
                break
            turn_result = await engine.answer(turn_result.state, turn)
            results.append(turn_result)
            if turn_result.not_understood and not turn_result.replies:
                result.problems.append(f"the turn {raw!r} was not understood")
    except (LookupError, ValueError) as error:
        result.problems.append(f"the flow failed: {error}")
        return result
    result.steps = [e.step_id for r in results for e in r.events if e.kind == "step"]
    final = results[-1]
    result.outcome = final.outcome.kind if final.outcome else None
    expected_steps = test.get("expect_steps")
    if expected_steps is not None and list(expected_steps) != result.steps:
        result.problems.append(f"expected steps {list(expected_steps)}, got {result.steps}")
    expected_outcome = test.get("expect_outcome")
    if expected_outcome is not None and expected_outcome != result.outcome:
        result.problems.append(f"expected outcome {expected_outcome!r}, got {result.outcome!r}")
    result.passed = not result.problems
    return result


async def run_all(library: FlowLibrary) -> list[FlowTestResult]:
    results = []
    for flow in library.flows().values():
        for test in flow.tests:
            results.append(await run_flow_test(library, flow, test))
    return results
