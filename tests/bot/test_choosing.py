"""Choosing the flow by meaning (bot/flows/choosing.py) and the domain defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.flows.choosing import FlowChooser
from bot.flows.engine import CustomerTurn, FlowEngine
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.validate import validate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    encoder = SentenceEncoder()
    encoder.load()
    return encoder


@pytest.fixture(scope="module")
def chooser(encoder: SentenceEncoder) -> FlowChooser:
    library = FlowLibrary(ROOT / "data" / "flows")
    library.reload()
    return FlowChooser(library, encoder)


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        # Openers that started the wrong flow when keywords and file order decided.
        ("the picture keeps freezing and breaking up into blocks", "problem_cable",
         "cable_picture_sound"),
        ("paying for 500mbps and speedtest shows 12", "problem_internet", "internet_slow_speed"),
        ("everything connects to wifi except my work laptop", "problem_internet",
         "internet_one_device_cannot_connect"),
        ("the photo app closes itself every time I open it since yesterday's update",
         "problem_software", "software_app_crashes"),
        ("charger cable is frayed and stopped charging, need a new one", "problem_hardware",
         "hardware_device_no_power"),
        # German, with the same flows and no German-specific code.
        ("Seit heute früh bricht das WLAN alle paar Minuten ab", "problem_internet",
         "internet_wifi_drops"),
        ("Der Receiver zeigt nur noch einen schwarzen Bildschirm, kein Signal", "problem_cable",
         "cable_black_screen"),
        # A laptop that is on, with a screen fault: not the laptop that won't switch on.
        ("my laptop screen has gone all flickery since this morning", "problem_hardware",
         "hardware_faulty_peripheral"),
        ("Laptop-Bildschirm flackert seit heute früh", "problem_hardware",
         "hardware_faulty_peripheral"),
        # A vague opener gets the domain's usual checks, not a narrower flow that
        # happens to share its words.
        ("mein internet geht nicht", "problem_internet", "internet_no_connection"),
        ("Internet geht nicht mehr", "problem_internet", "internet_no_connection"),
        ("internet funktioniert nicht", "problem_internet", "internet_no_connection"),
        ("Bonjour, mon internet ne marche pas", "problem_internet", "internet_no_connection"),
        ("hi internet not working since this morning", "problem_internet",
         "internet_no_connection"),
        # Narrower internet problems, told as customers tell them.
        ("Guten Tag, unser Festnetztelefon funktioniert nicht mehr, Internet geht aber",
         "problem_internet", "internet_home_phone"),
        ("hi, bei mir laden seit heute früh keine Seiten mehr, WhatsApp geht aber noch",
         "problem_internet", "internet_pages_dont_load"),
    ],
)  # fmt: skip
def test_a_confident_intent_ranks_its_domains_flows_by_meaning(
    chooser: FlowChooser, text: str, intent: str, expected: str
) -> None:
    chosen = chooser.choose(text=text, intent=intent, confidence=0.95)
    assert chosen is not None and chosen.id == expected


def test_the_plan_and_measured_speed_point_to_the_flow_that_reads_them(
    chooser: FlowChooser,
) -> None:
    # "evenings" and "wifi" are closer to the drop-outs; the speeds say it is slow.
    text = "my wifi is super bad in the evenings. paying for 250 and getting maybe 10"
    ranked = chooser.rank(text=text, intent="problem_internet", confidence=0.99)
    assert ranked[0].flow.id == "internet_slow_speed"
    assert ranked[0].speeds and "plan and measured speed given" in ranked[0].explain()
    assert not any(m.speeds for m in ranked[1:])


@pytest.mark.parametrize(
    ("text", "likely", "expected"),
    [
        ("mein Fernseher hat kein Bild mehr, nur schwarz", ("problem_cable", "problem_hardware"),
         "cable_black_screen"),
        # Not that close, but the printer is named and only one flow is for printers.
        ("Mein Drucker ist offline obwohl er im WLAN ist, Windows 11",
         ("problem_hardware", "problem_internet"), "hardware_printer_not_printing"),
        # Close to nothing in particular: no flow is clearly meant.
        ("this is the worst service ever", ("problem_cable", "problem_software"), None),
        # Clearly the black screen, but the NLU leaned to two other domains.
        ("mein Fernseher hat kein Bild mehr, nur schwarz",
         ("problem_software", "problem_internet"), None),
    ],
)  # fmt: skip
def test_an_unsure_message_clearly_meaning_one_flow(
    chooser: FlowChooser, text: str, likely: tuple[str, ...], expected: str | None
) -> None:
    devices = ["printer"] if "Drucker" in text else []
    flow = chooser.clearly_meant(text=text, likely_intents=likely, devices=devices)
    assert (flow.id if flow else None) == expected


def test_an_unsure_intent_ranks_every_domain(chooser: FlowChooser) -> None:
    # The NLU leaned to internet because of "router"; by meaning it is the printer.
    ranked = chooser.rank(
        text="printer says offline but it's right next to the router",
        intent="problem_internet",
        confidence=0.55,
        likely_intents=("problem_internet", "problem_hardware"),
    )
    assert {m.flow.domain for m in ranked} == {"internet", "cable", "hardware", "software"}
    assert ranked[0].flow.id == "hardware_printer_not_printing"
    assert "closest to" in ranked[0].explain()


def test_a_confident_intent_keeps_to_its_domain(chooser: FlowChooser) -> None:
    ranked = chooser.rank(text="my printer is offline", intent="problem_hardware", confidence=0.9)
    assert {m.flow.domain for m in ranked} == {"hardware"}


def test_no_flow_for_an_intent_that_is_not_a_problem(chooser: FlowChooser) -> None:
    assert chooser.choose(text="I want to talk to a person", intent="request_human") is None


def write_flow(folder: Path, flow_id: str, *, examples: list[str], default: bool = False) -> None:
    lines = [
        "flow:",
        f"  id: {flow_id}",
        "  domain: hardware",
        f"  title: {flow_id.replace('_', ' ')}",
        "  triggers:",
        "    intents: [problem_hardware]",
    ]
    if examples:
        lines.append("  examples:")
        lines += [f"    - {example}" for example in examples]
    if default:
        lines.append("  default: true")
    lines += [
        "  start: done",
        "  steps:",
        "    - id: done",
        "      outcome: resolved",
        "      say: Done.",
    ]
    (folder / f"{flow_id}.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_message_close_to_no_flow_gets_the_default_not_the_first_file(
    tmp_path: Path, encoder: SentenceEncoder
) -> None:
    # "a_headphones" sorts first; it must not become the fallback.
    write_flow(tmp_path, "a_headphones", examples=["my bluetooth headphones won't pair"])
    write_flow(tmp_path, "z_general", examples=["my device is broken"], default=True)
    library = FlowLibrary(tmp_path)
    library.reload()
    chooser = FlowChooser(library, encoder)
    chosen = chooser.choose(text="zzz qqq", intent="problem_hardware")
    assert chosen is not None and chosen.id == "z_general"


def test_a_new_flow_with_examples_is_chosen_without_retraining(
    tmp_path: Path, encoder: SentenceEncoder
) -> None:
    write_flow(tmp_path, "hardware_general", examples=["my device is broken"], default=True)
    library = FlowLibrary(tmp_path)
    library.reload()
    engine = FlowEngine(library, run_check=None, encoder=encoder)  # type: ignore[arg-type]
    turn = CustomerTurn(text="my webcam shows everything in purple", intent="problem_hardware")
    assert engine.select_flow(turn).id == "hardware_general"  # type: ignore[union-attr]

    write_flow(
        tmp_path,
        "hardware_webcam_colours",
        examples=["the camera picture has the wrong colours", "webcam image is all green or pink"],
    )
    library.reload()
    assert engine.select_flow(turn).id == "hardware_webcam_colours"  # type: ignore[union-attr]


def test_without_an_encoder_the_default_flow_wins_ties(tmp_path: Path) -> None:
    write_flow(tmp_path, "a_headphones", examples=["headphones"])
    write_flow(tmp_path, "b_general", examples=["broken"], default=True)
    library = FlowLibrary(tmp_path)
    library.reload()
    chosen = FlowChooser(library).choose(text="it broke", intent="problem_hardware")
    assert chosen is not None and chosen.id == "b_general"


def findings_for(folder: Path) -> list[str]:
    return [
        f"{f.severity}: {f.message}"
        for f in validate(folder, ROOT / "domain.yml", ROOT / "data" / "catalog")
    ]


def test_the_validator_wants_one_default_per_domain(tmp_path: Path) -> None:
    write_flow(tmp_path, "hardware_one", examples=["one"])
    write_flow(tmp_path, "hardware_two", examples=["two"])
    assert any("no hardware flow says `default: true`" in f for f in findings_for(tmp_path))

    write_flow(tmp_path, "hardware_one", examples=["one"], default=True)
    write_flow(tmp_path, "hardware_two", examples=["two"], default=True)
    assert any("already the hardware default" in f for f in findings_for(tmp_path))


def test_the_validator_warns_about_a_customer_flow_without_examples(tmp_path: Path) -> None:
    write_flow(tmp_path, "hardware_one", examples=[], default=True)
    assert any(f.startswith("warning: no `examples`") for f in findings_for(tmp_path))


def test_the_shipped_flows_name_a_default_per_domain(chooser: FlowChooser) -> None:
    for domain in ("internet", "cable", "hardware", "software"):
        assert chooser.default_for(domain) is not None, domain


def test_a_button_payload_starts_the_default_flow(chooser: FlowChooser) -> None:
    # "/problem_internet" carries no description of the problem.
    chosen = chooser.choose(text="/problem_internet", intent="problem_internet")
    assert chosen is not None and chosen.id == "internet_no_connection"


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        ("my wifi keeps dropping out every evening, and my printer stopped printing too",
         "internet_wifi_drops", "hardware_printer_not_printing"),
        ("no internet since this morning and on top of that half my tv channels are gone",
         "internet_no_connection", "cable_channels_missing"),
        ("outlook crashes whenever i open an attachment, plus the wifi is painfully slow",
         "software_app_crashes", "internet_slow_speed"),
        ("my phone can't join the wifi. btw the recordings on my box don't work either",
         "internet_one_device_cannot_connect", "cable_recording_fails"),
        ("my internet is down and my tv box also says no signal",
         "internet_no_connection", "cable_black_screen"),
        ("Das WLAN ist total langsam und außerdem druckt mein Drucker nicht mehr.",
         "internet_slow_speed", "hardware_printer_not_printing"),
        ("Kein Internet seit gestern. Und der Receiver hängt auch noch beim Hochfahren.",
         "internet_no_connection", "cable_set_top_box_frozen"),
        ("Der Fernseher bleibt schwarz und das Update am Laptop bricht immer ab",
         "cable_black_screen", "software_install_update_fails"),
        # "slow" alone is close to a slow computer; the part names the internet.
        ("my internet is slow and also my tv box keeps freezing",
         "internet_slow_speed", "cable_set_top_box_frozen"),
    ],
)  # fmt: skip
def test_a_message_that_tells_two_problems(
    chooser: FlowChooser, text: str, first: str, second: str
) -> None:
    told = chooser.two_problems(text)
    assert told is not None
    assert (told[0].match.flow.id, told[1].match.flow.id) == (first, second)
    # Each part is the customer's own words, where they stand in the message.
    assert all(text[part.start : part.end] == part.text for part in told)
    assert "also" not in told[1].text.split()[:1] and "außerdem" not in told[1].text


@pytest.mark.parametrize(
    "text",
    [
        # One problem told in two clauses.
        "my internet is down and i already restarted the router twice",
        "the tv box is frozen and the remote does nothing",
        "wifi is slow and netflix keeps buffering all evening",
        "my laptop won't turn on and the charger light is off",
        "printer says offline, but the router and everything else is fine",
        "Alle Geräte sind im WLAN, nur mein Arbeitslaptop nicht",
        "Mein Laptop wird sehr heiß und der Lüfter ist super laut",
        "Ich kann mich nicht einloggen und das Passwort zurücksetzen geht auch nicht",
    ],
)
def test_one_problem_in_two_clauses_is_one_problem(chooser: FlowChooser, text: str) -> None:
    assert chooser.two_problems(text) is None


def test_no_held_out_opener_is_read_as_two_problems(chooser: FlowChooser) -> None:
    openers = [
        json.loads(line)["text"]
        for line in (ROOT / "data" / "heldout" / "flow_openers.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert len(openers) >= 300
    assert [text for text in openers if chooser.two_problems(text)] == []


def test_a_fault_told_beside_a_question_about_the_bill(chooser: FlowChooser) -> None:
    told = chooser.fault_beside("i was charged twice this month AND my wifi is slow. great service")
    assert told is not None
    assert told.match.flow.id == "internet_slow_speed"
    assert told.text.startswith("my wifi is slow"), told.text
    assert chooser.fault_beside("why was i charged twice this month? i want my money back") is None


def test_a_part_that_only_narrows_the_first_is_no_second_problem(chooser: FlowChooser) -> None:
    assert chooser.two_problems("Alle Geräte sind im WLAN, nur mein Arbeitslaptop nicht") is None
    assert chooser.two_problems("all my devices are on the wifi, only my work laptop isn't") is None
