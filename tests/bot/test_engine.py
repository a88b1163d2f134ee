"""The flow engine, on the real internet flow and on small flows written for a case."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from bot.flows.engine import (
    CustomerTurn,
    FlowEngine,
    _words,
    choice_payload,
    match_choice,
    summarize_trail,
)
from bot.flows.loader import FlowLibrary


def engine_for(library: FlowLibrary, **answers: str) -> FlowEngine:
    async def run_check(name: str, slots: dict[str, Any]) -> str:
        return answers.get(name, "unknown")

    return FlowEngine(library, run_check)


def said(text: str, intent: str = "inform", **entities: str) -> CustomerTurn:
    return CustomerTurn(
        text=text, intent=intent, entities=[{"entity": k, "value": v} for k, v in entities.items()]
    )


async def test_start_asks_the_first_question_with_buttons(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get("internet_no_connection"))
    assert result.state and result.state["step"] == "lights"
    question = result.replies[-1]
    assert question.text.endswith("?")
    assert [b["payload"] for b in question.buttons] == [
        choice_payload("normal"),
        choice_payload("warning"),
        choice_payload("off"),
    ]


async def test_a_known_outage_skips_the_home_checks(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="outage")
    result = await engine.start(flow_library.get("internet_no_connection"))
    assert result.outcome and result.outcome.kind == "ticket"
    assert result.outcome.step_id == "outage_known"


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        (said("Orange", choice="warning"), "warning"),
        (said("it's blinking orange"), "warning"),
        (said("they are all solid green"), "normal"),
        (said("there are no lights at all"), "off"),
        (said("the light is", light_color="amber"), "warning"),
        (said("purple unicorn"), None),
    ],
)
async def test_free_text_and_buttons_pick_a_choice(
    flow_library: FlowLibrary, turn: CustomerTurn, expected: str | None
) -> None:
    step = flow_library.get("internet_no_connection").step("lights")
    assert match_choice(step, turn) == expected


async def test_self_fix_path_and_summary(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    state = (await engine.answer(state, said("green"))).state
    assert state["step"] == "restart"
    done = await engine.answer(state, said("it works now", "problem_fixed"))
    assert done.outcome and done.outcome.kind == "resolved" and done.state is None
    summary = summarize_trail(done.outcome.trail, flow_title="No internet connection")
    assert "Router lights → All lights green or white" in summary
    assert "Restarted the router; working again → yes" in summary


async def test_go_back_start_over_and_already_tried(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    state = (await engine.answer(state, said("blinking red"))).state
    assert state["step"] == "cables"
    back = await engine.answer(state, said("go back", "go_back"))
    assert back.state["step"] == "lights" and back.replies[-1].buttons
    state = (await engine.answer(back.state, said("blinking red"))).state
    # Back at a step with an instruction, the instruction comes again with its question.
    restarted = (await engine.answer(state, said("no", "deny"))).state
    again = await engine.answer(restarted, said("go back", "go_back"))
    assert again.state["step"] == "cables"
    assert any("cable" in r.text.lower() for r in again.replies[1:-1]), again.replies
    skipped = await engine.answer(state, said("I already did that", "already_tried"))
    assert skipped.state["step"] == "restart"
    over = await engine.answer(skipped.state, said("start over", "start_over"))
    assert over.state["step"] == "lights" and over.state["trail"] == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("the remote doesnt work", "the remote does not work"),
        ("it wont start and I cant log in", "it wo not start and i ca not log in"),
        ("it won't start", "it wo not start"),
        ("Isnt it on?", "is not it on"),
        ("I want it", "i want it"),  # no contraction
    ],
)
def test_contractions_typed_without_the_apostrophe_read_as_with_it(text: str, words: str) -> None:
    assert " ".join(_words(text)) == words


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("ja, hab ich gemacht", "hdmi_input"),  # a yes: the box is on
        ("yes I checked that already", "hdmi_input"),
        ("no, I already looked", "box_power"),
        # Yes and no at once: "already tried" as before, the question's no.
        ("yes I did that already, didn't help", "box_power"),
    ],
)
async def test_already_tried_to_a_question_about_how_things_are_is_its_yes_or_no(
    flow_library: FlowLibrary, text: str, step: str
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("cable_black_screen"))).state
    state = (await engine.answer(state, said("completely black"))).state
    state = (await engine.answer(state, said("yes", "affirm"))).state
    assert state["step"] == "box_on"  # "Is the TV box switched on …?"
    answered = await engine.answer(state, said(text, "already_tried"))
    assert answered.state["step"] == step


@pytest.mark.parametrize(
    ("text", "step", "asked_again"),
    [
        # Did it, and the yes may answer the question or the instruction: asked again.
        ("yes i checked the cables", "box_power", True),
        ("ja, hab ich alles geprüft", "box_power", True),
        # Did it and says it didn't help: the no of the question, as before.
        ("yes I did that already, still nothing", None, False),
    ],
)
async def test_a_yes_that_only_says_the_instruction_was_done_asks_the_question_again(
    flow_library: FlowLibrary, text: str, step: Optional[str], asked_again: bool
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("cable_black_screen"))).state
    state = (await engine.answer(state, said("completely black"))).state
    state = (await engine.answer(state, said("yes", "affirm"))).state
    state = (await engine.answer(state, said("no", "deny"))).state
    assert state["step"] == "box_power"  # "Check the adapter … Does a light come on now?"
    answered = await engine.answer(state, said(text, "already_tried"))
    assert (answered.state or {}).get("step") == step  # None: on to the new box, the flow ends
    texts = [r.text for r in answered.replies]
    assert (texts[-1] == "Does a light come on at the front of the box now?") == asked_again, texts
    assert not answered.not_understood
    if asked_again:
        # Said again: taken as done, as before, so the question is never asked in a loop.
        again = await engine.answer(answered.state, said(text, "already_tried"))
        assert (again.state or {}).get("step") != "box_power"


async def test_misunderstanding_twice_offers_a_person(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    first = await engine.answer(state, said("banana"))
    assert first.not_understood and not first.offer_person
    assert first.replies[-1].buttons  # the question is asked again
    second = await engine.answer(first.state, said("banana again"))
    assert second.offer_person


async def test_a_new_problem_is_left_to_the_caller(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    result = await engine.answer(state, said("my tv has no signal", "problem_cable"))
    assert result.not_understood and result.replies == []


async def test_explain_a_term_then_ask_again(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    result = await engine.answer(state, said("what is a router?", "explain_term", term="router"))
    assert "Router:" in result.replies[0].text
    assert result.state["step"] == "lights"


SUBFLOW = """
flow:
  id: {id}
  domain: hardware
  title: {id}
  triggers: {{intents: [problem_hardware]}}
  start: {start}
  steps:
{steps}
"""


def write_flow(directory: Path, flow_id: str, start: str, steps: str) -> None:
    (directory / f"{flow_id}.yml").write_text(
        SUBFLOW.format(id=flow_id, start=start, steps=steps), encoding="utf-8"
    )


async def test_call_a_subflow_and_return(tmp_path: Path) -> None:
    write_flow(
        tmp_path,
        "power_check",
        "plugged",
        """
    - id: plugged
      ask: Is it plugged in?
      yes: back
      no: plug_it
    - id: plug_it
      say: Plug it in.
      next: back
    - id: back
      return: true
""",
    )
    write_flow(
        tmp_path,
        "main",
        "intro",
        """
    - id: intro
      say: Let's check the power first.
      next: power
    - id: power
      call: power_check
      next: works
    - id: works
      ask: Does it work now?
      yes: done
      no: ticket
    - id: done
      outcome: resolved
    - id: ticket
      outcome: ticket
""",
    )
    library = FlowLibrary(tmp_path)
    library.reload()
    engine = engine_for(library)
    result = await engine.start(library.get("main"))
    assert result.state["flow"] == "power_check" and result.state["step"] == "plugged"
    result = await engine.answer(result.state, said("no", "deny"))
    assert result.state["flow"] == "main" and result.state["step"] == "works"
    assert "Plug it in." in [r.text for r in result.replies]
    result = await engine.answer(result.state, said("no", "deny"))
    assert result.outcome.kind == "ticket" and result.outcome.flow_id == "main"


async def test_branch_on_a_slot(tmp_path: Path) -> None:
    write_flow(
        tmp_path,
        "branchy",
        "code",
        """
    - id: code
      ask: What error code do you see?
      slot: error_code
      next: route
    - id: route
      branch:
        - if: {slot: error_code, in: ["E1", "E2"]}
          then: known
      else: unknown
    - id: known
      outcome: resolved
    - id: unknown
      outcome: ticket
""",
    )
    library = FlowLibrary(tmp_path)
    library.reload()
    engine = engine_for(library)
    state = (await engine.start(library.get("branchy"))).state
    known = await engine.answer(state, said("it says E2", error_code="E2"))
    assert known.outcome.kind == "resolved"
    unknown = await engine.answer(state, said("something else"))
    assert unknown.outcome.kind == "ticket"


async def test_an_edited_flow_is_picked_up_without_restart(flows_copy: Path) -> None:
    library = FlowLibrary(flows_copy)
    library.reload()
    path = flows_copy / "internet_no_connection.yml"
    path.write_text(
        path.read_text().replace("What do its lights show?", "What colour are its lights?")
    )
    import os

    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    engine = engine_for(library)
    result = await engine.start(library.get("internet_no_connection"))
    assert "What colour are its lights?" in result.replies[-1].text


def test_edits_are_looked_for_at_most_every_check_interval(
    flows_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from bot.flows import loader

    clock = [1000.0]
    monkeypatch.setattr(loader.time, "monotonic", lambda: clock[0])
    library = FlowLibrary(flows_copy, check_every=0.5)
    library.reload()
    library.flows()
    path = flows_copy / "internet_no_connection.yml"
    path.write_text(
        path.read_text().replace("What do its lights show?", "What colour are its lights?")
    )
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))

    def lights_question() -> str:
        flow = library.get("internet_no_connection")
        return " ".join(step.question for step in flow.steps.values())

    clock[0] += 0.2
    assert "What do its lights show?" in lights_question()
    clock[0] += 0.4
    assert "What colour are its lights?" in lights_question()


async def test_a_broken_edit_keeps_the_last_good_flows(flows_copy: Path) -> None:
    library = FlowLibrary(flows_copy)
    library.reload()
    path = flows_copy / "internet_no_connection.yml"
    path.write_text("flow: [this is not a flow")
    assert library.reload_if_changed() is False
    assert library.get("internet_no_connection") is not None
    assert library.last_error and "internet_no_connection.yml" in library.last_error


def test_slot_references_are_filled_in() -> None:
    from bot.flows.engine import fill_in

    assert fill_in("Error {error_code} on {device}", {"error_code": "E42"}) == (
        "Error E42 on {device}"
    )


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Neither my keyboard nor my mouse works", "en", "both"),
        ("neither the mouse nor the keyboard respond", "en", "both"),
        ("weder Maus noch Tastatur geht", "de", "both"),
        ("Weder die Tastatur noch die Maus funktionieren", "de", "both"),
        ("my mouse and keyboard stopped working", "en", "both"),
        # Named apart: not both, and never the keyboard that is fine.
        ("keyboard is fine but the mouse stopped", "en", None),
        ("not the keyboard, the mouse", "en", "mouse"),
        # A mouse and the laptop's touchpad, two choices: which one is asked.
        ("the mouse doesn't work, nor does the trackpad", "en", None),
    ],
)
async def test_peripherals_named_together_take_the_choice_for_both(
    flow_library: FlowLibrary, text: str, language: str, expected: str | None
) -> None:
    step = flow_library.get("hardware_faulty_peripheral").step("which")
    assert match_choice(step, said(text)) == expected

    engine = engine_for(flow_library)
    opener = CustomerTurn(text=text, intent="problem_hardware", language=language)
    started = await engine.start(flow_library.get("hardware_faulty_peripheral"), turn=opener)
    assert started.state is not None
    first_step = {"both": "both_restart", "mouse": "mouse_reconnect", None: "which"}
    assert started.state["step"] == first_step[expected], started.replies


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when will it be fixed?", True),
        ("how long will this take", True),
        ("wann ist das behoben?", True),
        ("Bis wann geht es wieder?", True),
        ("it's still not working", False),
        ("what is the status of my ticket?", False),
    ],
)
def test_questions_about_when_a_fault_ends(text: str, expected: bool) -> None:
    from bot.flows.engine import asks_when_fixed

    assert asks_when_fixed(said(text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes, no problem", True),
        ("no, not yet", False),
        ("nope", False),
        ("maybe", None),
        ("it's not working", False),
        ("yea", True),
        ("jo, passt", True),
        ("nö", False),
        ("nee, immer noch nicht", False),
    ],
)
def test_the_first_yes_or_no_word_decides(text: str, expected: bool | None) -> None:
    from bot.flows.engine import match_yes_no

    assert match_yes_no(said(text)) is expected


def test_branch_conditions_compare_answers_as_text() -> None:
    from bot.flows.model import Condition

    assert Condition(slot="code", one_of=("0x80070005",)).holds({"code": " 0X80070005"})
    assert Condition(slot="code", equals=42).holds({"code": "42"})
    assert Condition(slot="code", equals=None).holds({})
    assert not Condition(slot="code", equals="E1").holds({"code": "E2"})
