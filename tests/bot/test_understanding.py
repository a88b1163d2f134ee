"""Typed answers are understood carefully, misses never loop, and what the customer
already said answers the questions it fits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api.services.checks import next_part
from bot.flows.engine import CustomerTurn, FlowEngine, match_choice, match_yes_no
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.validate import validate
from tests.conftest import FLOWS_DIR

ROOT = FLOWS_DIR.parents[1]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def engine_for(
    library: FlowLibrary, encoder: SentenceEncoder | None = None, **answers: str
) -> FlowEngine:
    async def run_check(name: str, slots: dict[str, Any]) -> str:
        return answers.get(name, "unknown")

    return FlowEngine(library, run_check, encoder)


def said(text: str, intent: str = "inform", **entities: str) -> CustomerTurn:
    return CustomerTurn(
        text=text, intent=intent, entities=[{"entity": k, "value": v} for k, v in entities.items()]
    )


# ------------------------------------------------------------ careful matching


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        (said("NO. Nothing you say works", "problem_software"), None),
        (said("NO it still doesn't work, this is useless!!", "nlu_fallback"), None),
        (said("Nothing works, I hate this", "complaint"), None),
        (said("nothing is lit up"), "off"),
        (said("the light is not orange, it's green"), "normal"),
        (said("it's blinking orange"), "warning"),
        # "No lights at all" is close in meaning to "all lights are on"; the words decide.
        (said("all lights are on"), "normal"),
        (said("alle Lämpchen leuchten"), "normal"),
        (said("die Lämpchen leuchten nicht"), "off"),
    ],
)
def test_a_synonym_counts_only_when_the_message_is_that_answer(
    flow_library: FlowLibrary, turn: CustomerTurn, expected: str | None
) -> None:
    step = flow_library.get("internet_no_connection").step("lights")
    assert match_choice(step, turn) == expected


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        (said("NO. Nothing you say works", "problem_software"), None),
        (said("Nothing works, I hate this", "complaint"), None),
        (said("es leuchtet nichts"), "off"),
        (said("die Lampe blinkt rot"), "warning"),
        (said("all of them are lit"), "normal"),
        (said("purple unicorn"), None),
        (said("no", "deny"), None),
        (said("the light blinks orange, this is ridiculous!!!", "complaint"), "warning"),
    ],
)
def test_by_meaning_only_when_clearly_closest(
    flow_library: FlowLibrary, encoder: SentenceEncoder, turn: CustomerTurn, expected: str | None
) -> None:
    step = flow_library.get("internet_no_connection").step("lights")
    assert match_choice(step, turn, encoder) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no, the disk is not full i think", None),
        ("the disk isn't full", None),
        ("die Festplatte ist nicht voll", None),
        ("the disk is full", "full"),
    ],
)
def test_a_choice_the_customer_denies_is_not_chosen_by_meaning(
    flow_library: FlowLibrary, encoder: SentenceEncoder, text: str, expected: str | None
) -> None:
    # Close in meaning to "The disk is full", but the customer says it is not.
    step = flow_library.get("cable_recording_fails").step("symptom")
    assert match_choice(step, said(text), encoder) == expected


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        # German little words say no more than their English ones ("er", "nur").
        (said("er druckt nur leere Seiten", "problem_hardware"), "faded"),
        (said("it only prints blank pages", "problem_hardware"), "faded"),
        (said("ich glaube, er ist offline"), "offline"),
    ],
)
def test_a_german_answer_with_little_words_is_that_answer(
    flow_library: FlowLibrary, encoder: SentenceEncoder, turn: CustomerTurn, expected: str
) -> None:
    step = next(
        step
        for step in flow_library.get("hardware_printer_not_printing").steps.values()
        if any(choice.value == "faded" for choice in step.choices)
    )
    assert match_choice(step, turn, encoder) == expected


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        (said("NO it still doesn't work, this is useless!!", "nlu_fallback"), False),
        (said("NO. Nothing you say works", "problem_software"), False),
        (said("it still doesn't work", "inform"), False),
        (said("YES finally!!!", "nlu_fallback"), True),
        (said("I don't know", "deny"), None),
        (said("not sure"), None),
        (said("this is useless", "complaint"), None),
    ],
)
def test_clear_yes_and_no_in_angry_text(turn: CustomerTurn, expected: bool | None) -> None:
    assert match_yes_no(turn) == expected


# ----------------------------------------------------------------------- misses


async def test_three_misses_rephrase_then_options_and_a_person_then_a_person(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    first = await engine.answer(state, said("NO it still doesn't work, this is useless!!", ""))
    assert not first.offer_person and first.outcome is None
    assert len(first.replies) == 1 and first.replies[0].text.startswith("Sorry, I didn't catch")
    assert len(first.replies[0].buttons) == 3  # the options, once

    second = await engine.answer(first.state, said("NO. Nothing you say works", ""))
    assert second.offer_person and second.outcome is None
    assert "talk to a person" in second.replies[0].text
    assert len(second.replies[0].buttons) == 3

    third = await engine.answer(second.state, said("this is useless", "complaint"))
    assert third.outcome is not None and third.outcome.kind == "handoff"
    assert third.state is None and not third.not_understood
    assert third.outcome.options["skill"] == "internet"
    kinds = [e.kind for r in (first, second, third) for e in r.events]
    assert kinds.count("miss") == 3 and kinds[-1] == "outcome"


async def test_an_understood_answer_starts_the_count_again(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    state = (await engine.answer(state, said("banana"))).state
    state = (await engine.answer(state, said("banana"))).state
    state = (await engine.answer(state, said("blinking"))).state
    assert state["misses"] == 0
    again = await engine.answer(state, said("banana"))
    assert not again.offer_person and again.outcome is None


async def test_what_without_a_known_term_is_a_miss(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    for _ in range(2):
        state = (await engine.answer(state, said("what??", "explain_term"))).state
    last = await engine.answer(state, said("what??", "explain_term"))
    assert last.outcome is not None and last.outcome.kind == "handoff"


async def test_an_outburst_read_as_a_problem_stays_in_the_flow(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    engine = engine_for(flow_library, encoder, service_outage="none")
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    turn = CustomerTurn(
        text="NO. Nothing you say works", intent="problem_software", confidence=0.88
    )
    result = await engine.answer(state, turn)
    assert not result.not_understood and result.state["misses"] == 1
    new_problem = CustomerTurn(text="also my printer won't print", intent="problem_hardware")
    assert (await engine.answer(state, new_problem)).not_understood


async def test_a_short_reply_read_as_a_problem_stays_in_the_flow(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    # "on wifi" to "how does the speed compare with your plan?" is not a new problem.
    engine = engine_for(flow_library, encoder, service_outage="none")
    state = (await engine.start(flow_library.get("internet_slow_speed"))).state
    result = await engine.answer(state, CustomerTurn(text="on wifi", intent="problem_internet"))
    assert not result.not_understood and result.state["flow"] == "internet_slow_speed"


async def test_the_problem_told_again_mid_flow_does_not_start_it_over(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    engine = engine_for(flow_library, encoder, service_outage="none")
    state = (await engine.start(flow_library.get("internet_wifi_drops"))).state
    state = (await engine.answer(state, said("it drops out everywhere"))).state
    state = (await engine.answer(state, said("yes", "affirm"))).state
    question = state["step"]  # the router's restart: have its lights come back on?
    assert state["flow"] == "restart_router"
    again = CustomerTurn(
        text="it drops for like 2 minutes then comes back", intent="problem_internet"
    )
    result = await engine.answer(state, again)
    assert not result.not_understood
    assert result.state["step"] == question and result.state["misses"] == 0
    assert result.replies[0].text == "Thanks, that helps. Let's carry on with the checks."
    assert [e.kind for e in result.events] == ["noted"]
    # Told a second time at the same question, it is a miss like any other: no loop.
    second = await engine.answer(result.state, again)
    assert second.state["misses"] == 1 and not second.not_understood


# ------------------------------------------------------------ from the message


async def test_the_light_in_the_first_message_skips_the_light_question(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(
        flow_library.get("internet_no_connection"),
        slots={"device": "modem", "light_state": "blinking", "light_color": "orange"},
    )
    assert result.state["step"] == "cables"
    text = " ".join(r.text for r in result.replies)
    assert 'You said "blinking orange"' in text
    assert "What do its lights show?" not in text
    taken = [e for e in result.events if e.kind == "from_message"]
    assert [(e.step_id, e.value) for e in taken] == [("lights", "warning")]
    assert result.state["trail"][-1]["answer"] == (
        "Orange, red or blinking (from the customer's message)"
    )


@pytest.mark.parametrize("correction", [said("that's wrong", "deny"), said("go back", "go_back")])
async def test_the_customer_can_correct_what_was_taken(
    flow_library: FlowLibrary, correction: CustomerTurn
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    started = await engine.start(
        flow_library.get("internet_no_connection"), slots={"light_color": "orange"}
    )
    back = await engine.answer(started.state, correction)
    assert back.state["step"] == "lights"
    assert back.replies[-1].text.endswith("What do its lights show?")
    assert back.state["trail"] == []
    fixed = await engine.answer(back.state, said("all green"))
    assert fixed.state["step"] == "restart"


@pytest.mark.parametrize(
    ("opener", "correction", "language", "said_back", "app"),
    [
        (
            "Outlook startet nicht mehr seit heute früh",
            "nein, das stimmt nicht, es ist Word",
            "de",
            "Entschuldigung, da habe ich Sie falsch verstanden. Also: Word.",
            "Word",
        ),
        (
            "Outlook won't open since this morning",
            "that's wrong, it's Excel",
            "en",
            "Sorry, I got that wrong. So it's Excel.",
            "Excel",
        ),
    ],
)
async def test_a_correction_that_names_the_answer_corrects_that_question(
    flow_library: FlowLibrary,
    opener: str,
    correction: str,
    language: str,
    said_back: str,
    app: str,
) -> None:
    """Three questions were answered from the opener; the one the correction answers
    anew is corrected, not the last one taken ("where does it run?")."""
    engine = engine_for(flow_library)
    flow = flow_library.get("software_app_crashes")
    started = await engine.start(flow, turn=replace(said(opener), language=language))
    taken = [e.step_id for e in started.events if e.kind == "from_message"]
    assert taken == ["app_name", "behaviour", "where"]
    fixed = await engine.answer(started.state, replace(said(correction, "deny"), language=language))
    texts = [r.text for r in fixed.replies]
    assert said_back in texts, texts
    assert fixed.state["slots"]["app_name"] == app
    # The other answers from the opener still hold: straight back to the computer steps.
    assert fixed.state["step"] == "restart_computer", texts
    assert fixed.state["slots"]["where"] == "computer"


async def test_a_plain_no_after_a_taken_answer_is_still_a_no(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    started = await engine.start(
        flow_library.get("internet_no_connection"), slots={"light_color": "orange"}
    )
    result = await engine.answer(started.state, said("no", "deny"))
    assert result.state["step"] == "restart"


@pytest.mark.parametrize(
    ("device", "step"), [("laptop", "laptop_charger"), ("notebook", "laptop_charger")]
)
async def test_the_device_in_the_first_message_is_not_asked(
    flow_library: FlowLibrary, device: str, step: str
) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("hardware_device_no_power"), slots={"device": device}
    )
    assert result.state["step"] == step
    assert f"You said it's a {device}" in result.replies[0].text


@pytest.mark.parametrize(
    ("opener", "step", "wet_said", "advice"),
    [
        (
            "I spilled coffee on my laptop and now it won't turn on",
            "wet_dry",
            True,
            "Don't switch it on or charge it",
        ),
        (
            "Mir ist Wasser über den Laptop gelaufen, jetzt ist er tot",
            "wet_dry",
            True,
            "Schalten Sie ihn nicht ein",
        ),
        # Nobody else is asked whether anything got wet.
        ("my laptop won't turn on", "laptop_charger", False, "Plug the charger straight into"),
    ],
)
async def test_a_spill_is_taken_from_the_message_and_otherwise_never_asked(
    flow_library: FlowLibrary, opener: str, step: str, wet_said: bool, advice: str
) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("hardware_device_no_power"),
        slots={"device": "laptop"},
        turn=said(opener, "problem_hardware", device="laptop"),
        language="de" if "über" in opener else "en",
    )
    assert result.state["step"] == step
    steps = [e.step_id for e in result.events if e.kind == "step"]
    assert ("wet" in steps) == wet_said, steps
    text = " ".join(r.text for r in result.replies)
    assert advice in text and "Has any liquid got into it?" not in text, text


@pytest.mark.parametrize(
    ("opener", "language", "step"),
    [
        ("my kids laptop screen went black but i can hear it running", "en", "external_screen"),
        ("laptop screen is black but the caps lock light comes on", "en", "external_screen"),
        ("Laptop an, der Lüfter läuft, aber das Bild bleibt schwarz", "de", "external_screen"),
        # Not running: the charger first, as for everyone else.
        (
            "my laptop is completely dead, I can't hear the fan and no lights",
            "en",
            "laptop_charger",
        ),
        ("Laptop geht nicht an, der Lüfter läuft nicht", "de", "laptop_charger"),
        ("my laptop won't turn on", "en", "laptop_charger"),
    ],
)
async def test_a_laptop_said_to_run_with_a_dark_screen_goes_to_the_screen_test(
    flow_library: FlowLibrary, opener: str, language: str, step: str
) -> None:
    result = await engine_for(flow_library).start(
        flow_library.get("hardware_device_no_power"),
        slots={"device": "laptop"},
        turn=said(opener, "problem_hardware", device="laptop"),
        language=language,
    )
    assert result.state["step"] == step, [r.text for r in result.replies]
    text = " ".join(r.text for r in result.replies)
    assert ("only its screen stays dark" in text or "nur sein Bildschirm" in text) == (
        step == "external_screen"
    ), text


@pytest.mark.parametrize(
    ("typed", "language", "step"),
    [
        ("nur am Laptop, am Handy geht alles", "de", "device_restart"),
        ("only on my laptop, the phone is fine", "en", "device_restart"),
        ("auf allen Geräten", "de", "router_restart"),
        ("everywhere", "en", "router_restart"),
    ],
)
async def test_a_typed_answer_in_the_questions_own_phrases_answers_it(
    flow_library: FlowLibrary, typed: str, language: str, step: str
) -> None:
    engine = engine_for(flow_library)
    asked = await engine.start(flow_library.get("internet_pages_dont_load"), language=language)
    assert asked.state["step"] == "everywhere"
    answered = await engine.answer(asked.state, said(typed, "problem_internet"))
    assert answered.state["step"] == step, [r.text for r in answered.replies]


async def test_the_fault_told_again_is_no_answer_to_a_question_about_something_else(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    engine = engine_for(flow_library, encoder)
    pages = await engine.start(flow_library.get("internet_pages_dont_load"))
    asked = await engine.answer(pages.state, said("yes", "affirm"))  # on every device
    assert asked.state["step"] == "router_restart"  # "Have the router's lights come back on?"
    again = await engine.answer(asked.state, said("my internet is not working", "problem_internet"))
    assert again.state["step"] == "router_restart", [r.text for r in again.replies]
    assert "Check that the power cable" not in " ".join(r.text for r in again.replies)
    # To "Is it working properly now?" the same words are a no.
    lights = await engine.answer(again.state, said("yes", "affirm"))
    assert lights.state["step"] == "router_retest"
    still = await engine.answer(
        lights.state, said("my internet is not working", "problem_internet")
    )
    assert still.outcome is not None and still.outcome.kind == "ticket"  # the line is checked
    assert "restart did it" not in " ".join(r.text for r in still.replies)


@pytest.mark.parametrize(
    ("opener", "language", "restart_asked"),
    [
        ("websites won't load on any device, I already restarted the router", "en", False),
        ("websites won't load on any device, and the router reboots itself every hour", "en", True),
        ("Webseiten laden auf allen Geräten nicht, der Router hat sich von selbst neu gestartet",
         "de", True),
        ("Webseiten laden auf allen Geräten nicht, den Router hab ich schon neu gestartet",
         "de", False),
    ],
)  # fmt: skip
async def test_a_device_that_restarts_by_itself_was_not_restarted_by_the_customer(
    flow_library: FlowLibrary, opener: str, language: str, restart_asked: bool
) -> None:
    result = await engine_for(flow_library).start(
        flow_library.get("internet_pages_dont_load"),
        turn=said(opener, "problem_internet"),
        language=language,
    )
    text = " ".join(r.text for r in result.replies)
    assert ((result.state or {}).get("step") == "router_restart") == restart_asked, text
    assert ("already restarted" in text or "schon neu gestartet" in text) != restart_asked, text


async def test_a_correction_to_does_it_work_now_is_no_no(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    engine = engine_for(flow_library, encoder)
    lights = await engine.start(
        flow_library.get("internet_no_connection"),
        turn=said("my internet is not working", "problem_internet"),
    )
    cables = await engine.answer(lights.state, said("orange blinking"))
    assert cables.state["step"] == "cables"  # "Is your internet working now?"
    corrected = await engine.answer(
        cables.state,
        CustomerTurn(
            text="actually wait, it's my tv that's not working, not the internet",
            intent="nlu_fallback",
            confidence=0.4,
            likely_intents=("problem_cable", "problem_internet"),
        ),
    )
    assert corrected.outcome is None and corrected.not_understood
    assert corrected.state["step"] == "cables"


async def test_a_vague_device_is_still_asked(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("hardware_device_no_power"), slots={"device": "computer"}
    )
    assert result.state["step"] == "device"


async def test_the_error_code_in_the_first_message_is_used_and_named(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("software_install_update_fails"), slots={"error_code": "0x80070005"}
    )
    assert result.state["step"] == "permissions"
    assert "You gave the error code 0x80070005" in result.replies[0].text


async def test_an_error_code_the_language_model_missed_is_found_by_its_form(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library)
    flow = flow_library.get("software_install_update_fails")
    state = (await engine.start(flow)).state
    assert state["step"] == "has_code"
    state = (await engine.answer(state, said("yes", "affirm"))).state
    result = await engine.answer(state, said("it says 0x80070070 at the end"))
    assert result.state["slots"]["error_code"] == "0x80070070"  # the code, not the sentence


async def test_the_app_name_in_the_first_message_is_not_asked(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    flow = flow_library.get("software_app_crashes")
    by_entity = await engine.start(flow, slots={"brand": "Spotify"})
    by_words = await engine.start(flow, turn=said("outlook keeps crashing", "problem_software"))
    # "keeps crashing" also answers what the program does, and Outlook where it runs.
    for result, name, step in (
        (by_entity, "Spotify", "behaviour"),
        (by_words, "Outlook", "restart_computer"),
    ):
        assert result.state["step"] == step
        assert result.state["slots"]["app_name"] == name
        assert f"You said it's {name}" in result.replies[0].text
    assert by_words.state["slots"]["behaviour"] == "crash"
    assert by_words.state["slots"]["where"] == "computer"
    assert 'So "It closes by itself"' in by_words.replies[1].text
    assert "So it runs on: Computer." in by_words.replies[2].text
    # Three answers taken from one message: one invitation to correct them, at the end.
    said_in_turn = " ".join(reply.text for reply in by_words.replies)
    assert said_in_turn.count("If that's not right, just say so.") == 1
    assert by_words.replies[2].text.endswith("If that's not right, just say so.")


@pytest.mark.parametrize(
    ("opener", "language", "name", "said_back"),
    [
        ("the Chase app keeps crashing since the update", "en", "Chase app", "You said it's"),
        (
            "Die Sparkassen-App stürzt seit dem Update jedes Mal ab",
            "de",
            "Sparkassen-App",
            "Sie haben Sparkassen-App genannt",
        ),
    ],
)
async def test_an_app_no_list_knows_is_taken_by_its_name(
    flow_library: FlowLibrary, opener: str, language: str, name: str, said_back: str
) -> None:
    engine = engine_for(flow_library)
    turn = replace(said(opener, "problem_software"), language=language)
    result = await engine.start(flow_library.get("software_app_crashes"), turn=turn)
    assert result.state["slots"]["app_name"] == name
    assert said_back in result.replies[0].text
    # "keeps crashing" / "stürzt ... ab" also says what it does.
    assert result.state["slots"]["behaviour"] == "crash"


@pytest.mark.parametrize("opener", ["my app keeps crashing", "Die neue App stürzt ständig ab"])
async def test_an_app_without_a_name_is_asked_for(flow_library: FlowLibrary, opener: str) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("software_app_crashes"), turn=said(opener, "problem_software")
    )
    assert result.state["step"] == "app_name"
    assert "app_name" not in result.state["slots"]


@pytest.mark.parametrize(
    ("opener", "step"),
    [
        ("only my laptop can't connect to the wifi", "wifi_toggle"),
        ("only my laptop can't connect", "connection_kind"),
        ("none of my devices can get online", "router_restart"),
        ("my laptop can't connect", "others_online"),
    ],
)
async def test_which_devices_are_affected_from_the_first_message(
    flow_library: FlowLibrary, opener: str, step: str
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_one_device_cannot_connect")
    result = await engine.start(flow, turn=said(opener, "problem_internet"))
    assert result.state["step"] == step


@pytest.mark.parametrize(
    ("opener", "language", "step"),
    [
        ("tv says no signal on every channel", "en", "box_on"),
        ("no picture on the tv, just a black screen with sound", "en", "tv_menu"),
        ("the tv box shows error E-203", "en", "stb_power_cycle"),
        ("seit gestern Abend auf allen Sendern Kein Signal", "de", "box_on"),
        ("Fernseher bleibt schwarz", "de", "tv_menu"),
        # Words every description uses answer nothing: the question is asked.
        ("nothing on the tv works since this morning", "en", "screen_state"),
        ("my tv box is off and won't turn on", "en", "screen_state"),
        ("black screen, no signal", "en", "screen_state"),
        ("Fernsehen geht nicht", "de", "screen_state"),
    ],
)
async def test_what_the_tv_shows_is_taken_from_the_flow_s_own_phrases(
    flow_library: FlowLibrary, encoder: SentenceEncoder, opener: str, language: str, step: str
) -> None:
    engine = engine_for(flow_library, encoder, service_outage="none")
    flow = flow_library.get("cable_black_screen")
    turn = CustomerTurn(text=opener, intent="problem_cable", language=language)
    result = await engine.start(flow, turn=turn, language=language)
    assert result.state["step"] == step
    if step != "screen_state":
        assert [e.step_id for e in result.events if e.kind == "from_message"] == ["screen_state"]


@pytest.mark.parametrize(
    ("request_text", "language", "part"),
    [
        ("my laptop charger is broken, can you send a new one", "en", "power supply"),
        ("need toner for the office printer", "en", "printer"),
        ("Tintenpatronen für den Drucker bitte", "de", "printer"),
        # Two parts named: the first now, the other after it (tests above).
        ("I need a remote for the TV and a charger for the laptop", "en", "remote control"),
        # None named: the customer is asked which.
        ("can I order a replacement part", "en", None),
    ],
)
async def test_the_part_named_in_the_request_answers_which_part(
    flow_library: FlowLibrary, request_text: str, language: str, part: str | None
) -> None:
    engine = engine_for(
        flow_library, conversation_customer="known", find_part="found", part_quote="quote"
    )
    turn = CustomerTurn(text=request_text, intent="order_part", language=language)
    result = await engine.start(flow_library.get("request_part"), turn=turn, language=language)
    assert result.state["slots"].get("ask_part") == part
    assert (result.state["step"] == "ask_part") == (part is None)


async def test_still_not_working_right_after_a_yes_goes_on_where_no_leads(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    engine = engine_for(flow_library, encoder, service_outage="none")
    flow = flow_library.get("cable_picture_sound")
    started = await engine.start(
        flow, turn=said("the picture keeps freezing and breaking into blocks", "problem_cable")
    )
    assert started.state["step"] == "coax_check"
    fixed = await engine.answer(started.state, said("yes", "affirm"))
    assert fixed.outcome is not None and fixed.outcome.kind == "resolved"
    after = fixed.outcome.after
    assert after is not None and after["step"] == flow.step("coax_check").no
    going_on = await engine.continue_after(after, said("still the same", "problem_persists"))
    texts = [r.text for r in going_on.replies]
    assert texts[0] == "Sorry to hear that. Let's keep going."
    assert going_on.state["step"] == flow.step("coax_check").no
    # The agent's summary reads "no" where the customer first said "yes".
    assert going_on.state["trail"][-1]["step"] == "coax_check"
    assert going_on.state["trail"][-1]["answer"] == "no"
    assert going_on.state["slots"]["coax_check"] is False
    assert [e.kind for e in going_on.events][:1] == ["still_broken"]


LATER = """
flow:
  id: later
  domain: internet
  title: Later
  triggers: {intents: [problem_internet]}
  start: first
  steps:
    - id: first
      ask: Is the router switched on?
      yes: colour
      no: done
    - id: colour
      ask: What colour is the light?
      from_message: true
      choices:
        - {value: green, title: Green, next: done}
        - {value: red, title: Red, synonyms: [orange], next: done}
    - id: done
      outcome: resolved
"""


@pytest.mark.parametrize(
    ("opener", "language", "skipped"),
    [
        ("no internet since this morning and I already restarted the router twice", "en", True),
        ("Seit heute früh kein Internet, Router schon neu gestartet, bringt nichts", "de", True),
        ("Seit gestern kein Internet, den Router hab ich schon mehrmals neu gestartet", "de", True),
        ("Die Lampe am Router blinkt rot. Hab ihn schon zweimal neu gestartet.", "de", True),
        ("the modem light is blinking red. restarted it twice, nothing", "en", True),
        ("Kein Internet, den Router habe ich noch nicht neu gestartet", "de", False),
        ("Die Fritzbox blinkt rot, ich habe sie noch nicht neu gestartet", "de", False),
        ("no internet since this morning, I haven't restarted the router yet", "en", False),
        # Another device restarted, the router named in the same sentence: not the router.
        ("no internet, the router blinks and I restarted my laptop", "en", False),
        ("no internet since this morning", "en", False),
    ],
)
async def test_a_restart_the_customer_already_did_is_not_asked_for_again(
    flow_library: FlowLibrary, opener: str, language: str, skipped: bool
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_no_connection")
    state = (
        await engine.start(flow, turn=CustomerTurn(text=opener, intent="problem_internet"))
    ).state
    answer = "all green" if language == "en" else "alle grün"
    result = await engine.answer(state, CustomerTurn(text=answer, language=language))
    text = " ".join(r.text for r in result.replies)
    if skipped:
        assert result.outcome is not None and result.outcome.step_id == "escalate"
        assert (
            "You've already restarted the router" in text
            or "Sie haben den Router schon neu gestartet" in text
        )
        taken = [e for e in result.events if e.kind == "from_message"]
        assert [(e.step_id, e.value) for e in taken] == [("restart", "already_tried")]
    else:
        assert result.state["step"] == "restart"
        assert "Let's restart the router" in text or "Starten wir den Router neu" in text


@pytest.mark.parametrize(
    ("opener", "device", "skipped"),
    [
        ("the router light is blinking red, I restarted it twice", "router", True),
        ("Die Lampe am Router blinkt rot. Hab ihn schon zweimal neu gestartet.", "router", True),
        # "it" is the laptop: the router has not been restarted.
        ("my laptop can't get online since this morning, I restarted it twice", "laptop", False),
        ("Mein Laptop kommt nicht ins Internet, hab ihn schon neu gestartet", "laptop", False),
    ],
)
async def test_restarted_it_counts_only_when_it_is_the_router(
    flow_library: FlowLibrary, opener: str, device: str, skipped: bool
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_no_connection")
    turn = said(opener, "problem_internet", device=device)
    state = (await engine.start(flow, turn=turn)).state
    result = await engine.answer(state, said("all green"))
    taken = [(e.step_id, e.value) for e in result.events if e.kind == "from_message"]
    assert (("restart", "already_tried") in taken) is skipped, taken
    if not skipped:
        assert result.state["step"] == "restart"


async def test_already_tried_on_one_step_remembers_what_else_was_done(
    flow_library: FlowLibrary,
) -> None:
    """ "Yes I restarted the router already, didn't help" to the cable speed test: the
    test is skipped, and so is the router restart when the flow gets there."""
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_slow_speed")
    state = (
        await engine.start(flow, turn=said("internet is super slow", "problem_internet"))
    ).state
    state = (await engine.answer(state, said("much slower"))).state
    state = (await engine.answer(state, said("wifi"))).state
    assert state["step"] == "wired_test"
    result = await engine.answer(
        state, said("yes I restarted the router already this morning, didn't help", "already_tried")
    )
    text = " ".join(r.text for r in result.replies)
    assert "Unplug its power cable" not in text
    assert "You've already restarted the router, so we'll skip that step." in text
    assert "Thanks, then let's skip that." not in text  # one skip message, not two
    assert ("restart_router", "router_restart") in [
        (e.flow_id, e.step_id) for e in result.events if e.kind == "from_message"
    ]


async def printer_at_clear_queue(
    flow_library: FlowLibrary, language: str
) -> tuple[FlowEngine, dict[str, Any]]:
    """The printer checks at "Did the page print?", after "cancel every document and
    print one page again"."""
    engine = engine_for(flow_library, service_outage="none")
    opener = replace(
        said("my printer won't print, the jobs just sit in the queue", "problem_hardware"),
        language=language,
    )
    printer = flow_library.get("hardware_printer_not_printing")
    state = (await engine.start(printer, turn=opener)).state
    assert state["step"] == "clear_queue"
    return engine, state


@pytest.mark.parametrize(
    ("reply", "intent", "language"),
    [
        ("ok did that", "problem_fixed", "en"),  # the NLU's guess, "it works now", is wrong
        ("done", "affirm", "en"),
        ("yep, done that", "nlu_fallback", "en"),
        ("hab ich gemacht, und jetzt?", "already_tried", "de"),
        ("erledigt", "affirm", "de"),
    ],
)
async def test_done_to_an_instruction_asks_how_it_went(
    flow_library: FlowLibrary, reply: str, intent: str, language: str
) -> None:
    """ "Did the page print?" after "cancel every document and print again": "done"
    says it was done, not whether it printed."""
    engine, state = await printer_at_clear_queue(flow_library, language)
    result = await engine.answer(state, replace(said(reply, intent), language=language))
    assert result.outcome is None and result.state["step"] == "clear_queue"
    assert result.replies[0].text == (
        "Thanks. Then just to be sure:" if language == "en" else "Danke. Dann nur zur Sicherheit:"
    )
    # "already" is something else: it did not help.
    again = await engine.answer(state, said("already did that", "already_tried"))
    assert again.state is None or again.state["step"] != "clear_queue"


@pytest.mark.parametrize(
    ("reply", "asked_again"),
    [
        ("yes it's plugged into the wall socket", True),
        ("ja, das Kabel steckt jetzt fest drin", True),
        ("yes latest version", True),
        ("yes it does", False),
        ("yeah much better", False),
        ("yes", False),
        ("yes it works again, thanks", False),
        ("ja, läuft wieder", False),
    ],
)
async def test_a_yes_about_the_instruction_is_asked_again_before_closing(
    flow_library: FlowLibrary, reply: str, asked_again: bool
) -> None:
    """ "Is your internet working now?" after "check the cable" — "yes it's plugged
    into the wall socket" is about the cable: the question once more, not "solved"."""
    engine = engine_for(flow_library, service_outage="none")
    opener = said(
        "no internet, the light on the router is blinking orange",
        "problem_internet",
        light_state="blinking",
        light_color="orange",
    )
    state = (await engine.start(flow_library.get("internet_no_connection"), turn=opener)).state
    step = flow_library.get("internet_no_connection").step(state["step"])
    assert step.kind == "ask_yes_no" and step.text
    result = await engine.answer(state, said(reply, "affirm"))
    if asked_again:
        assert result.outcome is None and result.state["step"] == state["step"]
        assert result.replies[0].text in (
            "Thanks. Then just to be sure:",
            "Danke. Dann nur zur Sicherheit:",
        )
        again = await engine.answer(result.state, said("yes", "affirm"))
        assert again.outcome is not None and again.outcome.kind == "resolved"
    else:
        assert result.outcome is not None and result.outcome.kind == "resolved"


@pytest.mark.parametrize(
    ("reply", "language"),
    [
        ("yes i already rebooted it twice", "en"),
        ("ja hab ich schon zweimal neu gestartet", "de"),
    ],
)
async def test_a_restart_told_with_a_yes_is_not_asked_for_later(
    flow_library: FlowLibrary, reply: str, language: str
) -> None:
    """ "Is your internet working now?" after "check the cable" — "yes, I already
    restarted it twice" is asked once more; after the no, the router's restart is
    skipped, not asked for."""
    engine = engine_for(flow_library, service_outage="none")
    opener = replace(
        said(
            "no internet, the light on the router is blinking orange",
            "problem_internet",
            light_state="blinking",
            light_color="orange",
        ),
        language=language,
    )
    state = (await engine.start(flow_library.get("internet_no_connection"), turn=opener)).state
    asked = state["step"]
    result = await engine.answer(state, replace(said(reply, "affirm"), language=language))
    assert result.outcome is None and result.state["step"] == asked
    after_no = await engine.answer(result.state, replace(said("no", "deny"), language=language))
    assert "restart" in [e.step_id for e in after_no.events if e.kind == "from_message"]
    assert after_no.replies[0].text in (
        "You've already restarted the router, so we'll skip that step.",
        "Sie haben den Router schon neu gestartet, also überspringen wir diesen Schritt.",
    )


@pytest.mark.parametrize(
    ("reply", "language"),
    [
        ("i already restarted the laptop", "en"),
        ("hab den Laptop schon neu gestartet", "de"),
    ],
)
async def test_already_tried_to_a_question_about_how_things_are_is_kept_and_asked_again(
    flow_library: FlowLibrary, reply: str, language: str
) -> None:
    """ "Do other devices at home get online?" — "I already restarted the laptop" is
    no answer, and not a "no": kept for later, the question once more; a second
    time it counts as before."""
    engine = engine_for(flow_library, service_outage="none")
    opener = replace(
        said("my laptop won't connect to the wifi", "problem_internet"), language=language
    )
    flow = flow_library.get("internet_one_device_cannot_connect")
    state = (await engine.start(flow, turn=opener)).state
    assert state["step"] == "others_online"
    result = await engine.answer(state, replace(said(reply, "already_tried"), language=language))
    assert result.outcome is None and result.state["step"] == "others_online"
    assert result.replies[0].text in (
        "Thanks, I've noted that for a later step.",
        "Danke, das habe ich mir für einen späteren Schritt notiert.",
    )
    assert [e.kind for e in result.events] == ["noted"]
    again = await engine.answer(
        result.state, replace(said(reply, "already_tried"), language=language)
    )
    assert again.state is None or again.state["step"] != "others_online"


@pytest.mark.parametrize(
    ("reply", "language"),
    [
        ("I already restarted the phone", "en"),
        ("hab das Handy schon neu gestartet", "de"),
    ],
)
async def test_a_restart_of_another_device_kept_for_later_does_not_skip_the_routers(
    flow_library: FlowLibrary, reply: str, language: str
) -> None:
    """ "I already restarted the phone", with the phone left untagged by the NLU: kept,
    but after "no" the router's restart is asked for, not skipped as done."""
    engine = engine_for(flow_library, service_outage="none")
    opener = replace(
        said("my phone won't connect to the wifi", "problem_internet", device="phone"),
        language=language,
    )
    state = (
        await engine.start(flow_library.get("internet_one_device_cannot_connect"), turn=opener)
    ).state
    noted = await engine.answer(state, replace(said(reply, "already_tried"), language=language))
    assert [e.kind for e in noted.events] == ["noted"]
    after_no = await engine.answer(noted.state, replace(said("no", "deny"), language=language))
    text = " ".join(r.text for r in after_no.replies)
    assert "restart" not in [e.step_id for e in after_no.events if e.kind == "from_message"]
    assert "already restarted the router" not in text and "schon neu gestartet" not in text, text


@pytest.mark.parametrize(
    ("reply", "intent", "language", "lead", "instruction"),
    [
        ("how do I do that?", "out_of_scope", "en", "Of course, here it is again.",
         "Open the print queue"),
        ("sorry, what do you mean", "explain_term", "en", "Of course, here it is again.",
         "Open the print queue"),
        ("Wie mache ich das?", "out_of_scope", "de", "Gern, hier noch einmal.",
         "Öffnen Sie die Druckwarteschlange"),
        ("ich weiß nicht wo ich das sehe", "nlu_fallback", "de", "Gern, hier noch einmal.",
         "Öffnen Sie die Druckwarteschlange"),
        ("ok what should i do", "out_of_scope", "en", "Of course, here it is again.",
         "Open the print queue"),
        ("was soll ich machen", "out_of_scope", "de", "Gern, hier noch einmal.",
         "Öffnen Sie die Druckwarteschlange"),
        ("keine ahnung wie das geht", "nlu_fallback", "de", "Gern, hier noch einmal.",
         "Öffnen Sie die Druckwarteschlange"),
    ],
)  # fmt: skip
async def test_how_do_i_do_that_gets_the_step_again_and_a_person_near(
    flow_library: FlowLibrary, reply: str, intent: str, language: str, lead: str, instruction: str
) -> None:
    engine, state = await printer_at_clear_queue(flow_library, language)
    result = await engine.answer(state, replace(said(reply, intent), language=language))
    texts = [r.text for r in result.replies]
    assert texts[0].startswith(lead), texts
    assert texts[1].startswith(instruction), texts
    assert result.replies[-1].buttons and result.offer_person
    assert result.state["step"] == "clear_queue" and result.state.get("misses", 0) == 0
    # A question about a term the glossary knows is explained, as before.
    explained = await engine.answer(state, said("what does DNS mean?", "explain_term", term="DNS"))
    first = explained.replies[0].text
    assert "DNS" in first and "here it is again" not in first, first


@pytest.mark.parametrize(
    ("reply", "intent", "language", "lead"),
    [
        ("i don't know", "nlu_fallback", "en", "That's okay."),
        ("no idea honestly", "deny", "en", "That's okay."),
        ("weiß ich nicht", "deny", "de", "Kein Problem."),
        ("keine Ahnung", "nlu_fallback", "de", "Kein Problem."),
    ],
)
async def test_i_dont_know_is_no_no_and_brings_a_person_near(
    flow_library: FlowLibrary, reply: str, intent: str, language: str, lead: str
) -> None:
    """ "Did the page print?" — "I don't know": not read as a no (however the NLU reads
    it), the question again, and a person one tap away."""
    engine, state = await printer_at_clear_queue(flow_library, language)
    result = await engine.answer(state, replace(said(reply, intent), language=language))
    assert result.outcome is None and result.state["step"] == "clear_queue"
    assert result.replies[0].text.startswith(lead), result.replies[0].text
    assert result.offer_person
    assert [e.kind for e in result.events] == ["miss"]


@pytest.mark.parametrize(
    ("reply", "intent", "language", "about_to"),
    [
        ("ok I'll try that", "affirm", "en", True),
        ("sure, give me a minute", "affirm", "en", True),
        ("one sec", "nlu_fallback", "en", True),
        ("okay mach ich, danke", "affirm", "de", True),
        ("Moment, probier ich mal", "nlu_fallback", "de", True),
        # Answers: a yes is a yes, and what it did is said.
        ("yes", "affirm", "en", False),
        ("I'll try that but it still doesn't work", "deny", "en", False),
        ("ok", "affirm", "en", False),
    ],
)
async def test_about_to_do_an_instruction_is_no_answer_yet(
    flow_library: FlowLibrary, reply: str, intent: str, language: str, about_to: bool
) -> None:
    """ "Is it cooler and quieter now?" after "blow the dust out": „okay mach ich,
    danke" says it is about to be done, not that it worked."""
    engine, state = await printer_at_clear_queue(flow_library, language)
    result = await engine.answer(state, replace(said(reply, intent), language=language))
    waits = result.outcome is None and result.state and result.state["step"] == "clear_queue"
    assert bool(waits and not result.events) == about_to, [r.text for r in result.replies]
    if about_to:
        assert result.replies[0].text == (
            "Take your time. Once you've done it, tell me:"
            if language == "en"
            else "Lassen Sie sich Zeit. Sagen Sie mir danach einfach:"
        )
        assert result.replies[1].text.endswith("?") and result.replies[1].buttons
        assert result.state.get("misses", 0) == 0


@pytest.mark.parametrize(
    ("flow_id", "opener", "step"),
    [
        (
            "hardware_printer_not_printing",
            "my HP printer stopped printing after the windows update, it just sits in the queue",
            "clear_queue",
        ),
        ("hardware_printer_not_printing", "Drucker druckt nur noch leere Seiten", "ink_check"),
        ("hardware_printer_not_printing", "my printer won't print", "symptom"),
        (
            "software_app_crashes",
            "Outlook stürzt jedes Mal ab, wenn ich eine Mail mit Anhang öffne",
            "restart_computer",
        ),
        ("software_app_crashes", "Teams freezes whenever I share my screen", "force_close"),
        ("software_app_crashes", "Chrome doesn't work properly", "behaviour"),
        (
            "software_login_account",
            "I can't log in, it says my password is wrong but I just reset it",
            "typing_check",
        ),
        ("software_login_account", "I never get the verification code by sms", "code_resend"),
        ("software_login_account", "can't sign in to my email", "problem"),
        (
            "cable_channels_missing",
            "Einige Sender fehlen seit gestern, vor allem die HD Sender",
            "in_package",
        ),
        ("cable_channels_missing", "Channels not working", "which"),
        # A choice's own words, with another choice only a little closer by meaning.
        (
            "internet_wifi_drops",
            "Mein WLAN bricht ständig ab, vor allem abends, im ganzen Haus",
            "wired_drops",
        ),
        (
            "hardware_faulty_peripheral",
            "my kid spilled juice on the keyboard and now half the keys don't work",
            "kb_dry",  # the keyboard from its own words, the spill from the flow's phrases
        ),
    ],
)
async def test_the_first_question_is_not_asked_when_the_opener_answers_it(
    flow_library: FlowLibrary, encoder: SentenceEncoder, flow_id: str, opener: str, step: str
) -> None:
    engine = engine_for(flow_library, encoder, service_outage="none")
    result = await engine.start(flow_library.get(flow_id), turn=said(opener))
    assert result.state["step"] == step


async def test_already_tried_that_answers_nothing_now_is_noted_for_later(
    flow_library: FlowLibrary,
) -> None:
    """ "I already unplugged the box twice" to "What is the problem?": noted for later
    (no misunderstanding), and the restart is not asked for once the frozen box is chosen."""
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("cable_set_top_box_frozen")
    opener = said("something is wrong with my tv box", "problem_cable")
    state = (await engine.start(flow, turn=opener)).state
    assert state["step"] == "symptom"
    noted = await engine.answer(state, said("I already unplugged the box twice", "already_tried"))
    assert not noted.not_understood and noted.state["misses"] == 0
    assert "noted that for a later step" in noted.replies[0].text
    assert noted.state["step"] == "symptom"
    result = await engine.answer(noted.state, said("still frozen", "problem_persists"))
    text = " ".join(r.text for r in result.replies)
    assert "You've already restarted the TV box" in text and "Unplug its power cable" not in text


async def test_a_later_message_answers_a_later_question(tmp_path: Path) -> None:
    (tmp_path / "later.yml").write_text(LATER)
    library = FlowLibrary(tmp_path)
    library.reload()
    engine = engine_for(library)
    state = (await engine.start(library.get("later"))).state
    result = await engine.answer(state, said("yes, and its light is orange", "affirm"))
    assert result.outcome is not None and result.outcome.slots["colour"] == "red"
    assert any(e.kind == "from_message" for e in result.events)


# -------------------------------------------------------------------- validator


BROKEN = """
flow:
  id: broken
  domain: internet
  title: Broken
  triggers: {intents: [problem_internet]}
  start: hello
  steps:
    - id: hello
      say: Hello.
      from_message: true
      if_not_said: ask_it
      next: ask_it
    - id: ask_it
      ask: Is it on?
      from_message:
        entities: [colour_of_light]
      yes: done
      no: done
    - id: pick
      ask: Which one?
      from_message:
        phrases: {red: [red light], purple: [purple light]}
        done: [picked one already]
      choices:
        - {value: red, title: Red, next: done}
    - id: done
      outcome: resolved
"""


def test_the_validator_checks_from_message(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN)
    findings = validate(tmp_path, ROOT / "domain.yml", ROOT / "data" / "catalog")
    messages = [f.message for f in findings if f.severity == "error"]
    assert any("'hello' has `from_message` but asks nothing" in m for m in messages)
    assert any("'hello' has `if_not_said`, which only a question" in m for m in messages)
    assert any("entity 'colour_of_light'" in m for m in messages)
    assert any("needs `yes`, `no` or `done` phrases" in m for m in messages)
    assert any("'pick' has `done` phrases, but the step has no `skip`" in m for m in messages)
    assert any("`phrases` of step 'pick' names the choice 'purple'" in m for m in messages)


def test_the_shipped_flows_pass_the_validator() -> None:
    findings = validate(FLOWS_DIR, ROOT / "domain.yml", ROOT / "data" / "catalog")
    assert [f for f in findings if f.severity == "error" and "from_message" in f.message] == []


async def test_several_answers_with_the_same_checks_are_said_back_and_not_asked(
    flow_library: FlowLibrary,
) -> None:
    # Hot, loud and switching off all lead to the vents: nothing to pick.
    engine = engine_for(flow_library)
    opener = "My dad's laptop got really hot and shut off twice today. Fan sounds like a jet."
    result = await engine.start(
        flow_library.get("hardware_overheating"), turn=said(opener, "problem_hardware")
    )
    named = '"It gets very hot", "The fan is loud" and "It switches itself off"'
    assert named in result.replies[0].text, result.replies[0].text
    assert "the same checks" in result.replies[0].text
    assert result.state["step"] == "vents"


@pytest.mark.parametrize(
    ("opener", "language"),
    [
        ("my laptop is getting really hot and i can smell burning", "en"),
        ("Der Laptop wird total heiß, der Lüfter dröhnt und jetzt riecht es verbrannt", "de"),
    ],
)
async def test_an_urgent_answer_named_with_others_comes_first(
    flow_library: FlowLibrary, opener: str, language: str
) -> None:
    # Heat and a burning smell lead to different steps; the smell is not asked about.
    engine = engine_for(flow_library)
    turn = replace(said(opener, "problem_hardware"), language=language)
    result = await engine.start(flow_library.get("hardware_overheating"), turn=turn)
    text = "\n".join(r.text for r in result.replies)
    assert ("for your safety" if language == "en" else "zu Ihrer Sicherheit") in text, text
    assert result.state is None  # handed over at once, no question asked
    assert [e.step_id for e in result.events if e.kind == "outcome"] == ["danger"]


@pytest.mark.parametrize(
    ("opener", "language", "named"),
    [
        (
            "Der Receiver hängt sich ständig auf und die Fernbedienung reagiert nicht",
            "de",
            "Fangen wir mit „Der Receiver hängt“ an",
        ),
        (
            "my tv box is frozen on one channel and the remote does nothing",
            "en",
            'Let\'s start with "The box is frozen or stuck"',
        ),
    ],
)
async def test_a_choice_that_covers_the_others_named_is_taken(
    flow_library: FlowLibrary, opener: str, language: str, named: str
) -> None:
    """A frozen box is why the remote does nothing (`covers: [remote]`): its restart
    first, said so, rather than "please pick one"."""
    engine = engine_for(flow_library, service_outage="none")
    turn = replace(said(opener, "problem_cable"), language=language)
    result = await engine.start(flow_library.get("cable_set_top_box_frozen"), turn=turn)
    assert named in result.replies[0].text, result.replies[0].text
    assert ("frozen" if language == "en" else "Receiver") in result.replies[0].text
    taken = [e.value for e in result.events if e.kind == "from_message" and e.step_id == "symptom"]
    assert taken == ["frozen"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it's hot and there's smoke coming out", "danger"),
        ("it's hot but there's no smoke", "hot"),
        ("er wird heiß und qualmt", "danger"),
    ],
)
def test_a_typed_answer_naming_the_urgent_choice_takes_it(
    flow_library: FlowLibrary, encoder: SentenceEncoder, text: str, expected: str
) -> None:
    step = flow_library.get("hardware_overheating").step("symptom")
    assert match_choice(step, said(text), encoder) == expected


@pytest.mark.parametrize(
    ("flow_id", "opener", "language", "named"),
    [
        (
            "hardware_printer_not_printing",
            "Der Drucker hat Papierstau und zeigt offline an",
            "de",
            "„Er wird als offline angezeigt“ und „Papierstau“",
        ),
    ],
)
async def test_several_answers_named_at_once_are_said_back_before_the_customer_picks(
    flow_library: FlowLibrary, flow_id: str, opener: str, language: str, named: str
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    turn = replace(said(opener, "problem_hardware"), language=language)
    result = await engine.start(flow_library.get(flow_id), turn=turn)
    question = result.replies[-1]
    assert named in question.text, question.text
    assert len(question.buttons) >= 2  # still the customer's pick


async def test_one_answer_named_gets_no_note(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("hardware_overheating"),
        turn=said("my laptop fan is really loud lately", "problem_hardware"),
    )
    assert "more than one" not in " ".join(r.text for r in result.replies)


def ordering_engine(
    library: FlowLibrary, *, price: str = "free", quotes: dict[str, str] | None = None, **answers
):
    """An engine whose part checks behave as api/services/checks.py does for the order's
    slots; `ordered` lists the parts ordered, in order. `quotes`: a part's quote result
    by the part asked for, `price` for the others."""
    ordered: list[str] = []

    async def run_check(name: str, slots: dict[str, Any]) -> str:
        if name == "next_part":
            return await next_part(None, slots)  # type: ignore[arg-type]
        if name == "find_part":
            slots["part_number"] = str(slots["ask_part"]).upper().replace(" ", "-")
            return "found"
        if name == "part_quote":
            slots["part_name"] = str(slots["part_number"]).lower()
            return (quotes or {}).get(str(slots["ask_part"]), price)
        if name == "place_part_order":
            ordered.append(str(slots["part_number"]))
            slots["order_number"] = f"ORD-{len(ordered):06d}"
            return "ordered"
        return answers.get(name, "unknown")

    return FlowEngine(library, run_check), ordered


@pytest.mark.parametrize(
    ("opener", "language", "said_back", "next_one"),
    [
        (
            "the dog chewed the remote and I lost the charger, can you send both?",
            "en",
            'You asked for "A remote control" and "A power supply or adapter". '
            'Let\'s start with "A remote control"; the rest comes right after.',
            "Now the next part you asked for.",
        ),
        (
            "Ich brauche eine neue Fernbedienung und ein Netzteil",
            "de",
            "Sie haben nach „Eine Fernbedienung“ und „Ein Netzteil oder Adapter“ gefragt. "
            "Fangen wir mit „Eine Fernbedienung“ an; der Rest folgt gleich danach.",
            "Jetzt zum nächsten Teil, nach dem Sie gefragt haben.",
        ),
    ],
)
async def test_two_parts_asked_for_at_once_are_both_ordered_one_after_the_other(
    flow_library: FlowLibrary, opener: str, language: str, said_back: str, next_one: str
) -> None:
    engine, ordered = ordering_engine(flow_library, conversation_customer="known")
    turn = replace(said(opener, "order_part"), language=language)
    result = await engine.start(flow_library.get("request_part"), turn=turn)
    texts = [r.text for r in result.replies]
    assert any(said_back in t for t in texts), texts
    assert result.state["step"] == "confirm_address"
    assert result.state["slots"]["parts_to_follow"] == ["power supply"]
    done = await engine.answer(result.state, replace(said("yes"), language=language))
    texts = [r.text for r in done.replies]
    # Both on one go: the second to the address just confirmed, without asking again.
    assert ordered == ["REMOTE-CONTROL", "POWER-SUPPLY"]
    assert next_one in texts, texts
    assert done.outcome is not None and done.outcome.kind == "ticket"
    steps = [e.step_id for e in done.events if e.kind == "step"]
    assert steps.count("ordered") == 2 and "same_address" in steps, steps
    assert "confirm_address" not in steps[steps.index("next_part") :], steps


async def test_declining_the_second_part_keeps_the_first_order(
    flow_library: FlowLibrary,
) -> None:
    engine, ordered = ordering_engine(flow_library, price="quote", conversation_customer="known")
    turn = said("I need a new remote and a new charger for the box", "order_part")
    state = (await engine.start(flow_library.get("request_part"), turn=turn)).state
    assert state["step"] == "confirm_price"
    state = (await engine.answer(state, said("yes"))).state  # the remote's price
    assert state["step"] == "confirm_address"
    asked = await engine.answer(state, said("yes"))  # address: ordered, on to the charger
    assert ordered == ["REMOTE-CONTROL"]
    assert asked.state["step"] == "confirm_price"
    assert "confirm_price" not in asked.state["slots"]  # the remote's "yes" is not reused
    done = await engine.answer(asked.state, said("no"))
    texts = [r.text for r in done.replies]
    assert "Okay, I won't order that one. Your order ORD-000001 stands." in texts, texts
    assert ordered == ["REMOTE-CONTROL"]


async def test_a_visit_instead_of_the_first_part_is_booked_after_the_second_is_ordered(
    flow_library: FlowLibrary,
) -> None:
    engine, ordered = ordering_engine(
        flow_library, quotes={"printer": "incompatible"}, conversation_customer="known"
    )
    turn = said("my printer ink ran out and I also need a new keyboard", "order_part")
    state = (await engine.start(flow_library.get("request_part"), turn=turn)).state
    assert state["step"] == "offer_visit"  # the ink fits nothing: a technician instead?
    asked = await engine.answer(state, said("yes"))
    texts = [r.text for r in asked.replies]
    assert any(t.startswith("I'll book the technician once the other part") for t in texts)
    assert asked.state["step"] == "confirm_address"  # the keyboard first
    done = await engine.answer(asked.state, said("yes"))
    assert ordered == ["KEYBOARD"]
    assert done.outcome is not None and done.outcome.kind == "visit"


async def test_another_address_with_parts_waiting_says_all_of_them_go_to_a_colleague(
    flow_library: FlowLibrary,
) -> None:
    engine, ordered = ordering_engine(flow_library, conversation_customer="known")
    turn = said("I need a new remote and a new charger for the box", "order_part")
    state = (await engine.start(flow_library.get("request_part"), turn=turn)).state
    done = await engine.answer(state, said("no"))
    assert ordered == []
    assert done.outcome is not None and done.outcome.step_id == "other_address_all"
    assert "this part and the others you asked for" in done.outcome.message


async def test_two_parts_in_the_first_message_are_named_after_identification(
    flow_library: FlowLibrary,
) -> None:
    engine, _ = ordering_engine(
        flow_library, conversation_customer="unknown", verify_customer="verified"
    )
    turn = said("I need a new remote and a new charger for the box", "order_part")
    state = (await engine.start(flow_library.get("request_part"), turn=turn)).state
    state = (await engine.answer(state, said("account number", choice="account"))).state
    state = (await engine.answer(state, said("ACC-1004"))).state
    result = await engine.answer(state, said("10117"))
    assert result.state["step"] == "confirm_address"
    assert 'You asked for "A remote control" and "A power supply or adapter"' in " ".join(
        r.text for r in result.replies
    ), [r.text for r in result.replies]


@pytest.mark.parametrize(
    ("answer", "language", "next_step"),
    [
        ("Sie schließt sich immer noch von selbst", "de", "updates"),
        ("it keeps closing", "en", "updates"),
        # Not the fault chosen before: asked again, not guessed.
        ("hmm it froze for a second", "en", "restart_computer"),
        # Where it runs, named again, tells no fault.
        ("computer", "en", "restart_computer"),
    ],
)
async def test_describing_the_fault_again_answers_does_it_work_now_with_no(
    flow_library: FlowLibrary, answer: str, language: str, next_step: str
) -> None:
    engine = engine_for(flow_library)
    flow = flow_library.get("software_app_crashes")
    opener = replace(said("Outlook closes by itself", "problem_software"), language=language)
    state = (await engine.start(flow, turn=opener)).state
    assert state["step"] == "restart_computer" and state["slots"]["behaviour"] == "crash"
    result = await engine.answer(state, replace(said(answer), language=language))
    assert result.state["step"] == next_step


async def test_answers_ahead_of_the_question_are_noted_once_then_missed(
    flow_library: FlowLibrary,
) -> None:
    """ "on wifi" while the speed is asked is noted; the same again is a miss, so a
    customer can never be kept in a loop of "noted"."""
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_slow_speed")
    state = (await engine.start(flow, turn=said("my internet is slow", "problem_internet"))).state
    assert state["step"] == "speed_test"
    noted = await engine.answer(state, said("on wifi", "inform"))
    assert "noted that for a later step" in noted.replies[0].text
    assert noted.state["misses"] == 0 and any(e.kind == "noted" for e in noted.events)
    again = await engine.answer(noted.state, said("on the wifi", "inform"))
    assert again.state["misses"] == 1 and not any(e.kind == "noted" for e in again.events)


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("my email is jane.doe@example.com", "jane.doe@example.com"),
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("Kundennummer ACC-1002 bitte", "ACC-1002"),
    ],
)
async def test_an_email_or_account_number_typed_at_once_is_not_asked_for_again(
    flow_library: FlowLibrary, encoder: SentenceEncoder, text: str, reference: str
) -> None:
    engine = engine_for(flow_library, encoder, conversation_customer="unknown")
    state = (await engine.start(flow_library.get("identify_customer"))).state
    assert state["step"] == "ask_reference"
    result = await engine.answer(state, said(text))
    assert result.state["step"] == "ask_postcode"
    assert result.state["slots"]["customer_ref"] == reference


async def test_one_accessory_named_is_not_read_as_both_by_meaning(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    # By meaning alone "Keyboard and mouse" is a little closer than "Keyboard"; the
    # message names only the keyboard, so it is the keyboard, and it is not asked.
    engine = engine_for(flow_library, encoder)
    opener = said("i spilled coffee on my keyboard and now some keys dont work")
    result = await engine.start(flow_library.get("hardware_faulty_peripheral"), turn=opener)
    assert result.state["slots"]["which"] == "keyboard"
    assert result.state["step"] == "kb_dry"


async def test_a_question_asked_again_is_not_answered_from_the_same_words_again(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    # "my account number is ACC-1002" matched no account with the postcode: the second
    # try asks for the account again instead of taking the same number from the message.
    engine = engine_for(
        flow_library, encoder, conversation_customer="unknown", verify_customer="not_found"
    )
    state = (await engine.start(flow_library.get("identify_customer"))).state
    state = (await engine.answer(state, said("my account number is ACC-1002"))).state
    retry = await engine.answer(state, said("10115"))
    assert retry.state["step"] == "ask_reference", [r.text for r in retry.replies]
    assert "ACC-1002" not in " ".join(r.text for r in retry.replies)


async def test_the_problem_told_at_a_vague_openers_first_question_is_a_new_flow(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    # "my cable tv isn't working" started the cable default flow; "the channels are all
    # pixelated" to its first question is the problem, not a miss, even though it
    # fits the running flow nearly as well.
    engine = engine_for(flow_library, encoder, service_outage="none")
    start = await engine.start(
        flow_library.get("cable_black_screen"), turn=said("my cable tv isnt working")
    )
    told = CustomerTurn(text="the channels are all pixelated", intent="problem_cable")
    assert (await engine.answer(start.state, told)).not_understood
    # Past the first question, the same reply fitting the running flow stays with it.
    state = (await engine.answer(start.state, said("completely black"))).state
    assert state["trail"]


def test_a_greeting_is_never_a_choice_by_meaning(
    flow_library: FlowLibrary, encoder: SentenceEncoder
) -> None:
    step = flow_library.get("internet_slow_speed").step("speed_test")
    assert match_choice(step, said("hallo?", "greet"), encoder) is None


async def test_a_second_device_named_does_not_hide_the_first(flow_library: FlowLibrary) -> None:
    """ "Mein Laptop lädt nicht mehr, das Ladekabel ist ganz heiß": the laptop answers
    "Which kind of computer?", quoted as written; the charger names no choice."""
    text = "Mein Laptop lädt nicht mehr, das Ladekabel ist ganz heiß geworden"
    laptop = {"entity": "device", "value": "laptop", "start": 5, "end": 11}
    charger = {"entity": "device", "value": "charger", "start": 33, "end": 42}
    assert text[33:42] == "Ladekabel"
    turn = CustomerTurn(
        text=text, intent="problem_hardware", entities=[laptop, charger], language="de"
    )
    engine = engine_for(flow_library)
    result = await engine.start(flow_library.get("hardware_device_no_power"), turn=turn)
    assert result.state["step"] == "laptop_charger"
    assert "„Laptop“" in result.replies[0].text, result.replies[0].text


@pytest.mark.parametrize(
    "text",
    [
        "still says incorrect password",
        "it still shows the same error",
        "zeigt immer noch Fehler 12",
    ],
)
def test_still_showing_the_error_is_a_no(text: str) -> None:
    """ "Is the device online now?" — "still says incorrect password" is a no."""
    assert match_yes_no(said(text, "nlu_fallback")) is False


async def test_an_app_that_still_works_is_not_the_one_asked_about(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library)
    flow = flow_library.get("software_app_crashes")
    opener = said(
        "bei mir lädt keine einzige Webseite mehr, WhatsApp geht aber komischerweise noch",
        "problem_software",
    )
    result = await engine.start(flow, turn=replace(opener, language="de"))
    assert result.state["step"] == "app_name"
    assert "WhatsApp" not in " ".join(r.text for r in result.replies)


async def test_the_two_speeds_told_in_two_messages_answer_the_speed_question(
    flow_library: FlowLibrary,
) -> None:
    """ "How does the download speed compare with your plan?" — "about 3 mbps" (not
    enough alone), then "we pay for 200": much lower than the plan."""
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_slow_speed")
    started = await engine.start(
        flow, turn=said("the internet is sooo slow today, can't even load youtube")
    )
    state = started.state
    # The opener's words name no answer to the speed question.
    assert "more than one" not in " ".join(r.text for r in started.replies)
    step = flow.step(state["step"])
    assert step.from_message is not None and step.from_message.speed_ratio is not None
    first = await engine.answer(state, said("about 3 mbps"))
    assert first.state["step"] == state["step"]
    second = await engine.answer(first.state, said("we pay for 200"))
    assert second.state["step"] != state["step"]
    assert second.state["slots"]["measured_speed"].startswith("3")


@pytest.mark.parametrize(
    ("reply", "language"),
    [
        ("my tv is on input hdmi 1", "en"),
        ("der Fernseher steht doch schon auf HDMI 1 als Eingang", "de"),
    ],
)
async def test_a_reply_in_the_words_of_the_step_is_no_new_problem(
    flow_library: FlowLibrary, encoder: SentenceEncoder, reply: str, language: str
) -> None:
    """ "Is the TV picture back?" after "choose the HDMI input": "my tv is on input
    hdmi 1" speaks of that step. It is asked again, not left to the caller as another
    problem; "oh and my laptop won't turn on either" still is one."""
    engine = engine_for(flow_library, encoder)
    opener = replace(said("my tv says no signal", "problem_cable"), language=language)
    state = (await engine.start(flow_library.get("cable_black_screen"), turn=opener)).state
    state = (await engine.answer(state, replace(said("yes", "affirm"), language=language))).state
    asked = state["step"]
    result = await engine.answer(state, replace(said(reply, "problem_cable"), language=language))
    assert result.state is not None and result.state["step"] == asked, result.replies
    assert not result.not_understood and result.replies, result.replies
    other = await engine.answer(
        state, said("oh and my laptop won't turn on either", "problem_hardware")
    )
    assert other.not_understood
