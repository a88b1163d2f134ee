"""Flows in German and English: the engine answers in the conversation's language,
and the validator finds a text that is missing in one language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.flows.engine import CustomerTurn, FlowEngine, Reply, summarize_trail
from bot.flows.loader import FlowLibrary, load_flow_file
from bot.flows.model import Flow, Text
from bot.flows.validate import validate
from bot.wording import catalogue, say

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"
# Words that only an English sentence has; none may reach a German customer.
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|please|is|are|and|with|it|let's|now|working|lights?)\b", re.IGNORECASE
)


def engine_for(library: FlowLibrary, **answers: str) -> FlowEngine:
    async def run_check(name: str, slots: dict[str, Any]) -> str:
        if name == "service_outage" and answers.get(name) == "outage":
            slots["outage_description"] = "Kabelschaden in der Hauptstraße"
            slots["outage_expected_end"] = "18:00 Uhr"
            # As api/services/checks.py writes it: the estimate as a sentence.
            slots["outage_estimate"] = say("outage.estimate", "de", time="18:00 Uhr")
        return answers.get(name, "unknown")

    return FlowEngine(library, run_check)


def german(text: str, intent: str = "inform", **entities: str) -> CustomerTurn:
    return CustomerTurn(
        text=text,
        intent=intent,
        entities=[{"entity": k, "value": v} for k, v in entities.items()],
        language="de",
    )


def german_texts(library: FlowLibrary) -> set[str]:
    """Every German text of every flow, and the engine's own German sentences."""
    found: set[str] = set()

    def add(text: str) -> None:
        if isinstance(text, Text) and "de" in text.translations:
            found.add(text.translations["de"])

    for flow in library.flows().values():
        for step in flow.steps.values():
            for text in (step.text, step.question, step.warning, step.label):
                add(text)
            for choice in step.choices:
                add(choice.title)
    return found


def rendered(replies: list[Reply]) -> list[str]:
    """What the customer reads: each message and each button."""
    return [r.text for r in replies] + [b["title"] for r in replies for b in r.buttons]


def assert_all_german(replies: list[Reply], library: FlowLibrary) -> None:
    known = german_texts(library)
    engine_german = {t["de"] for key, t in catalogue().items() if key.startswith("engine.")}
    for text in rendered(replies):
        assert not ENGLISH_WORDS.search(text), f"English reached a German customer: {text!r}"
        # Each message is a German flow text (slots filled in) or the engine's German.
        pattern_of = [re.sub(r"\\\{[a-z_]+\\\}", ".+", re.escape(t)) for t in known]
        assert (
            text in known
            or text in engine_german
            or any(re.fullmatch(p, text, re.DOTALL) for p in pattern_of)
            or text.startswith(
                ("⚠️ Sicherheit geht vor:", "Entschuldigung,", "Ich bin noch nicht sicher")
            )
        ), f"not a German flow text: {text!r}"


async def test_a_german_conversation_is_german_from_problem_to_ticket(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_no_connection")
    every_reply: list[Reply] = []

    result = await engine.start(flow, turn=german("Internet geht nicht", "problem_internet"))
    every_reply += result.replies
    assert result.state["language"] == "de"
    assert result.replies[-1].text == "Schauen wir uns Ihren Router an. Was zeigen die Lämpchen?"
    assert [b["title"] for b in result.replies[-1].buttons] == [
        "Alle Lämpchen grün oder weiß",
        "Orange, rot oder blinkend",
        "Gar keine Lämpchen",
    ]

    result = await engine.answer(result.state, german("das Lämpchen blinkt rot"))
    every_reply += result.replies
    assert result.state["step"] == "cables"
    assert result.replies[-1].text == "Funktioniert Ihr Internet jetzt?"
    assert [b["title"] for b in result.replies[-1].buttons] == ["Ja", "Nein"]

    result = await engine.answer(result.state, german("nein", "deny"))
    every_reply += result.replies
    assert result.state["step"] == "restart"

    result = await engine.answer(result.state, german("hat nicht geholfen"))
    every_reply += result.replies
    assert result.outcome is not None and result.outcome.kind == "ticket"
    assert result.outcome.message.startswith("Es tut mir leid, dass die üblichen Schritte")
    every_reply.append(Reply(result.outcome.message))
    assert_all_german(every_reply, flow_library)

    summary = summarize_trail(result.outcome.trail, flow_title=flow.title, language="de")
    assert summary.splitlines()[0] == "Diagnose: Keine Internetverbindung"
    assert "- Lämpchen am Router → Orange, rot oder blinkend" in summary
    assert "- Router neu gestartet; funktioniert wieder → nein" in summary


async def test_german_slots_are_filled_in_and_a_warning_is_german(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="outage")
    result = await engine.start(
        flow_library.get("internet_no_connection"), turn=german("Störung?", "problem_internet")
    )
    assert result.replies[0].text.startswith(
        "In Ihrer Gegend gibt es eine bekannte Störung: Kabelschaden in der Hauptstraße."
    )
    assert "bis 18:00 Uhr behoben" in result.replies[0].text

    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get("internet_no_connection"), turn=german(""))
    result = await engine.answer(result.state, german("gar keine Lämpchen"))
    assert result.state["step"] == "power"
    assert result.replies[0].text == (
        "⚠️ Sicherheit geht vor: Verwenden Sie nur das Netzteil, das mit dem Router geliefert wurde."
    )
    assert_all_german(result.replies, flow_library)


@pytest.mark.parametrize(
    ("flow_id", "opener", "answers"),
    [
        ("cable_black_screen", "Mein Fernseher zeigt kein Bild", ["komplett schwarz"]),
        ("cable_black_screen", "Fernseher schwarz", ["da steht kein Signal"]),
        ("cable_set_top_box_frozen", "Receiver hängt", ["die Fernbedienung geht nicht"]),
        ("hardware_device_no_power", "Rechner geht nicht an", ["ein Laptop"]),
        ("software_login_account", "Anmeldung geht nicht", ["Passwort vergessen"]),
    ],
)
async def test_german_words_answer_the_questions(
    flow_library: FlowLibrary, flow_id: str, opener: str, answers: list[str]
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get(flow_id), turn=german(opener))
    for answer in answers:
        step = result.state["step"]
        result = await engine.answer(result.state, german(answer))
        assert not result.not_understood, f"{answer!r} did not answer {step!r}"
        assert result.state is None or result.state["step"] != step
    assert_all_german(result.replies, flow_library)


async def test_customers_mix_languages_and_the_flow_follows_a_switch(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    flow = flow_library.get("internet_no_connection")
    result = await engine.start(flow, turn=CustomerTurn(text="no internet", language="en"))
    assert result.replies[-1].text == "Let's look at your router. What do its lights show?"
    # An English customer typing German words is understood, and answered in English...
    result = await engine.answer(result.state, CustomerTurn(text="blinkt rot", language="en"))
    assert result.state["step"] == "cables"
    assert result.replies[-1].text == "Is your internet working now?"
    # ...and when the conversation switches to German, the next question is German.
    result = await engine.answer(result.state, german("no", "deny"))
    assert result.state["language"] == "de"
    assert result.replies[-1].text == "Funktioniert Ihr Internet jetzt?"
    assert "Starten wir den Router neu." in result.replies[0].text


async def test_a_flow_started_without_a_message_speaks_the_given_language(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library)
    result = await engine.start(
        flow_library.get("ticket_contact"), slots={"ticket_number": "TCK-000042"}, language="de"
    )
    assert result.state["language"] == "de"
    assert result.replies[0].text.startswith(
        "Eine Kollegin oder ein Kollege kann sich nur um das Ticket TCK-000042 kümmern"
    )
    assert_all_german(result.replies, flow_library)


async def test_a_state_from_before_languages_is_english(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    state = (await engine.start(flow_library.get("internet_no_connection"))).state
    del state["language"]
    assert engine.current_question(state)[0].text.startswith("Let's look at your router.")
    result = await engine.answer(state, CustomerTurn(text="green"))
    assert result.state["language"] == "en"
    assert result.replies[-1].text == "Is your internet working now?"


async def test_a_language_the_flows_do_not_know_is_english(flow_library: FlowLibrary) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(
        flow_library.get("internet_no_connection"), turn=CustomerTurn(language="fr")
    )
    assert result.state["language"] == "en"
    assert result.replies[-1].text.startswith("Let's look at your router.")


async def test_a_misunderstood_german_answer_is_asked_again_in_german(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get("internet_no_connection"), turn=german(""))
    result = await engine.answer(result.state, german("lila Einhorn"))
    assert result.replies[0].text.startswith("Entschuldigung, das habe ich nicht verstanden.")
    assert "Was zeigen die Lämpchen?" in result.replies[0].text
    result = await engine.answer(result.state, german("lila Einhorn"))
    assert result.offer_person
    assert result.replies[0].text.startswith("Ich bin noch nicht sicher")
    assert_all_german(result.replies, flow_library)


async def test_the_glossary_explains_in_german_under_german_names(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get("cable_black_screen"), turn=german(""))
    result = await engine.answer(
        result.state, german("Was ist ein Receiver?", "explain_term", term="receiver")
    )
    assert result.replies[0].text.startswith("Receiver: Der Receiver Ihres Anbieters")
    result = await engine.answer(result.state, german("was ist eine Fernbedienung", "explain_term"))
    assert result.replies[0].text.startswith("Fernbedienung: Die Fernbedienung")


async def test_an_answer_taken_from_the_first_message_is_said_in_german(
    flow_library: FlowLibrary,
) -> None:
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(
        flow_library.get("internet_no_connection"),
        turn=german("Router blinkt orange, kein Internet", light_color="orange"),
    )
    assert result.state["step"] == "cables"
    assert result.replies[0].text == (
        "Sie haben „orange“ geschrieben, daher überspringe ich die Frage nach den Lämpchen. "
        "Falls das nicht stimmt, sagen Sie es einfach."
    )


async def test_a_german_customer_is_quoted_in_their_own_words_not_the_normalised_values(
    flow_library: FlowLibrary,
) -> None:
    """Synonyms make "blinkt rot" `blinking` and `red`; the reply quotes "blinkt rot"."""
    text = "Seit gestern kein Internet, die Lampe am Router blinkt rot"
    turn = CustomerTurn(
        text=text,
        intent="problem_internet",
        entities=[
            {"entity": "device", "value": "router", "start": 41, "end": 47},
            {"entity": "light_state", "value": "blinking", "start": 48, "end": 54},
            {"entity": "light_color", "value": "red", "start": 55, "end": 58},
        ],
        language="de",
    )
    assert turn.said(["light_state", "light_color"]) == "blinkt rot"
    engine = engine_for(flow_library, service_outage="none")
    result = await engine.start(flow_library.get("internet_no_connection"), turn=turn)
    assert result.state["step"] == "cables"
    assert result.replies[0].text.startswith(
        "Sie haben „blinkt rot“ geschrieben, daher überspringe ich die Frage nach den Lämpchen."
    ), result.replies[0].text


# ---------------------------------------------------------------- the validator


def write_flow(directory: Path, steps: str, *, languages: str = "") -> Path:
    path = directory / "sample.yml"
    path.write_text(
        "flow:\n  id: sample\n  domain: hardware\n  title: Sample\n"
        + (f"  languages: {languages}\n" if languages else "")
        + "  examples: [my device is broken]\n  default: true\n"
        + "  triggers: {intents: [problem_hardware]}\n  start: ask\n  steps:\n"
        + steps,
        encoding="utf-8",
    )
    return path


def errors_for(directory: Path) -> list[str]:
    findings = validate(directory, DOMAIN, directory / "no-catalog")
    return [f"{f.source}:{f.line}: {f.message}" for f in findings if f.severity == "error"]


BILINGUAL_STEPS = """\
    - id: ask
      label: {en: Checked it, de: Geprüft}
      ask:
        en: Does it work?
        de: Funktioniert es?
      yes: done
      no: ticket
    - id: done
      outcome: resolved
      say: {en: Great!, de: Prima!}
    - id: ticket
      outcome: ticket
"""


def test_a_flow_in_both_languages_is_valid(tmp_path: Path) -> None:
    write_flow(tmp_path, BILINGUAL_STEPS)
    assert errors_for(tmp_path) == []


def test_a_missing_german_text_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        BILINGUAL_STEPS.replace("        de: Funktioniert es?\n", "").replace(
            "say: {en: Great!, de: Prima!}", "say: Great!"
        ),
    )
    errors = errors_for(tmp_path)
    assert len(errors) == 2
    # The German is missing from the `ask` written on lines 12-13; the plain `say`
    # is reported on its step's line (16).
    assert errors[0].startswith(f"{path}:13: the `ask` of step 'ask' has no de text")
    assert "mark the flow as one language only (`languages: [en]`)" in errors[0]
    assert errors[1].startswith(f"{path}:16: the `say` of step 'done' has no de text")


def test_a_choice_title_missing_english_is_reported(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        """\
    - id: ask
      ask: {en: "Which colour?", de: "Welche Farbe?"}
      choices:
        - value: red
          title: {de: Rot}
          next: done
        - value: green
          title: {en: Green, de: Grün}
          synonyms: {en: [green], de: [grün]}
          next: done
    - id: done
      outcome: resolved
""",
    )
    assert errors_for(tmp_path) == [
        f"{path}:14: the title of the choice 'red' of step 'ask' has no en text: write the "
        "languages side by side ({en: …, de: …}), or mark the flow as one language only "
        "(`languages: [en]`)"
    ]


def test_placeholders_must_be_the_same_in_every_language(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        BILINGUAL_STEPS.replace(
            "say: {en: Great!, de: Prima!}",
            'say: {en: "Ticket {ticket_number} is closed.", de: "Das Ticket ist geschlossen."}',
        ),
    )
    errors = errors_for(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:19: the `say` of step 'done' fills in different")


def test_an_explicitly_english_only_flow_is_accepted_and_shown_in_english(
    tmp_path: Path,
) -> None:
    write_flow(
        tmp_path,
        """\
    - id: ask
      say: Let's check the cable.
      ask: Does it work?
      yes: done
      no: ticket
    - id: done
      outcome: resolved
      say: Great!
    - id: ticket
      outcome: ticket
""",
        languages="[en]",
    )
    assert errors_for(tmp_path) == []
    flow = load_flow_file(tmp_path / "sample.yml")
    assert flow.languages == ("en",) and flow.languages_declared
    assert flow.language_for("de") == "en"


async def test_a_german_customer_gets_an_english_only_flow_in_english(tmp_path: Path) -> None:
    write_flow(
        tmp_path,
        """\
    - id: ask
      ask: Does it work?
      yes: done
      no: ticket
    - id: done
      outcome: resolved
      say: Great!
    - id: ticket
      outcome: ticket
""",
        languages="[en]",
    )
    library = FlowLibrary(tmp_path)
    library.reload()
    engine = engine_for(library)
    flow: Flow = library.get("sample")
    result = await engine.start(flow, turn=german("geht nicht"))
    assert result.replies[-1].text == "Does it work?"
    assert [b["title"] for b in result.replies[-1].buttons] == ["Yes", "No"]
    done = await engine.answer(result.state, german("ja", "affirm"))
    assert done.outcome is not None and done.outcome.message == "Great!"


def test_an_unknown_language_is_a_format_error(tmp_path: Path) -> None:
    path = write_flow(tmp_path, BILINGUAL_STEPS.replace("de: Geprüft", "fr: Vérifié"))
    errors = errors_for(tmp_path)
    assert errors == [
        f"{path}:11: step 'ask': `label`: unknown language 'fr'; use en, de",
    ]


def test_a_glossary_term_without_german_is_reported(tmp_path: Path) -> None:
    write_flow(tmp_path, BILINGUAL_STEPS)
    glossary = tmp_path / "_glossary.yml"
    glossary.write_text(
        "terms:\n"
        "  router:\n    en: The box.\n    de: Das Gerät.\n    also: [box]\n"
        "  modem:\n    en: The other box.\n",
        encoding="utf-8",
    )
    assert errors_for(tmp_path) == [
        f"{glossary}:7: the term 'modem' has no de explanation: write the languages side by "
        "side ({en: …, de: …})"
    ]


def test_every_shipped_flow_text_is_written_in_german(flow_library: FlowLibrary) -> None:
    for flow in flow_library.flows().values():
        assert not flow.languages_declared, f"{flow.id} is marked as one language only"
        for step in flow.steps.values():
            for text in (step.text, step.question, step.label, step.warning):
                if text:
                    assert isinstance(text, Text) and text.in_language("de") != str(text), (
                        f"{flow.id}.{step.id}: {text!r} is not translated"
                    )
            for choice in step.choices:
                assert choice.synonyms_by_language.get("de") or not choice.synonyms, (
                    f"{flow.id}.{step.id}.{choice.value} has no German synonyms"
                )
