"""Tests for bot/routing.py and the shipped bot/routing.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.routing import (
    DEFAULT_MAPPING_PATH,
    DOMAINS,
    REQUESTS,
    Route,
    RoutingConfigError,
    default_table,
    load_table,
    parse_table,
    route,
)

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


def device(value: str) -> dict:
    return {"entity": "device", "value": value, "start": 0, "end": len(value)}


def test_every_domain_intent_has_a_route():
    intents = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))["intents"]
    table = default_table()
    missing = [name for name in intents if name not in table.intents]
    assert missing == []


def test_shipped_file_uses_only_known_labels():
    table = load_table(DEFAULT_MAPPING_PATH)
    for rule in table.intents.values():
        assert rule.request in REQUESTS
        assert rule.default in DOMAINS
    assert set(table.device_domains.values()) <= set(DOMAINS)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("problem_internet", Route("internet", "troubleshoot")),
        ("problem_cable", Route("cable", "troubleshoot")),
        ("problem_hardware", Route("hardware", "troubleshoot")),
        ("problem_software", Route("software", "troubleshoot")),
        ("billing", Route("other", "other")),
        ("account", Route("other", "other")),
        ("ticket_status", Route("other", "ticket_status")),
        ("greet", Route("other", "other")),
    ],
)
def test_direct_intents(intent, expected):
    assert route(intent, [], "whatever the text says about wifi") == expected


def test_problem_intent_ignores_contradicting_entities():
    assert route("problem_cable", [device("router")], "router") == Route("cable", "troubleshoot")


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("router", "internet"),
        ("Modem", "internet"),
        ("set-top box", "cable"),
        ("printer", "hardware"),
        ("app", "software"),
    ],
)
def test_order_part_domain_from_device_entity(value, domain):
    assert route("order_part", [device(value)], "I need a new one") == Route(domain, "part")


def test_order_part_defaults_to_hardware():
    assert route("order_part", [], "need a replacement power cord") == Route("hardware", "part")


def test_order_part_does_not_guess_from_keywords():
    # "cable" in a part order is usually a power or HDMI cable, not cable TV
    assert route("order_part", [], "the box came without the cable") == Route("hardware", "part")


def test_hint_order_follows_the_table():
    # inform looks at entities first, complaint at keywords first
    assert route("inform", [device("printer")], "my internet") == Route("hardware", "troubleshoot")
    assert route("complaint", [device("printer")], "my internet") == Route("internet", "complaint")
    assert route("complaint", [device("printer")], "you are useless") == Route(
        "hardware", "complaint"
    )


def test_phone_entity_does_not_make_a_complaint_hardware():
    # "an hour on the phone" is a call, not a faulty handset
    entities = [device("phone")]
    assert route("complaint", entities, "an hour on the phone, on hold") == Route(
        "other", "complaint"
    )


def test_non_device_entities_are_ignored():
    entities = [{"entity": "brand", "value": "Comcast"}, {"entity": "device", "value": "toaster"}]
    assert route("complaint", entities, "you are useless") == Route("other", "complaint")


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("third day without WIFI, you are a joke", "internet"),
        ("the cable modem light, again!", "internet"),
        ("horrible cable service", "cable"),
        ("half the channels gone and nobody cares", "cable"),
        ("your app is garbage", "software"),
        ("the printer you sold me is junk", "hardware"),
        ("nobody ever calls back", "other"),
        ("on the phone and on hold for an hour", "other"),
        ("it cuts out every ten minutes, ridiculous", "internet"),
        ("Schon wieder kein Empfang auf RTL und Vox, das dritte Mal", "cable"),
        ("Die Fritzbox spinnt schon wieder, unfassbar", "internet"),
        ("Internetausfall Nummer drei diese Woche", "internet"),
        ("Der Festplattenreceiver ist eine Frechheit", "cable"),
        ("Das Passwort wird nie angenommen, ich bin sauer", "software"),
        ("Der Drucker von euch ist Schrott", "hardware"),
        ("Seit Wochen ruft niemand zurück", "other"),
    ],
)
def test_complaint_domain_from_keywords(text, domain):
    assert route("complaint", [], text) == Route(domain, "complaint")


def test_keywords_match_whole_words_only():
    # "apple" must not match the software keyword "app", "cableway" not "cable"
    assert route("complaint", [], "apple pie on the cableway") == Route("other", "complaint")


def test_request_human_stays_other_without_a_device():
    assert route("request_human", [], "my internet, get me a person") == Route("other", "human")
    assert route("request_human", [device("router")], "router") == Route("internet", "human")


def test_fallback_and_unknown_intents():
    assert route("nlu_fallback", [], "Kabel TV alles schwarz") == Route("cable", "other")
    assert route("nlu_fallback", [], "hmm") == Route("other", "other")
    assert route("some_future_intent", [device("router")], "wifi") == Route("other", "other")


def test_a_not_understood_message_takes_the_domain_the_assistant_guesses():
    likely = ("problem_cable", "problem_internet", "greet")
    assert route("nlu_fallback", [], "same thing on both", likely) == Route("cable", "other")
    # the words in the message still come first
    assert route("nlu_fallback", [], "wifi again", likely) == Route("internet", "other")
    # only a problem intent ranked first is a guess
    assert route("nlu_fallback", [], "hmm", ("greet", "problem_cable")) == Route("other", "other")
    assert route("nlu_fallback", [], "hmm", ("order_part",)) == Route("other", "other")


def test_empty_text_and_entities_are_safe():
    assert route("complaint", None, None) == Route("other", "complaint")


def test_route_is_a_named_tuple():
    result = route("problem_internet", [], "")
    assert (result.domain, result.request) == ("internet", "troubleshoot")


def test_minimal_table_and_custom_rules():
    table = parse_table(
        {
            "intents": {
                "order_part": {
                    "domain": "from_entities",
                    "hints": ["keywords"],
                    "default": "hardware",
                    "request": "part",
                }
            },
            "keyword_domains": [{"domain": "cable", "patterns": ["remote( control)?"]}],
        }
    )
    assert table.route("order_part", [], "new Remote Control please") == Route("cable", "part")
    assert table.route("order_part", [], "new charger") == Route("hardware", "part")
    assert table.route("greet", [], "hi") == Route("other", "other")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level"),
        ({"intents": {"x": "internet"}}, "intents.x"),
        ({"intents": {"x": {"domain": "moon", "request": "other"}}}, "intents.x.domain"),
        ({"intents": {"x": {"domain": "other", "request": "fly"}}}, "intents.x.request"),
        (
            {"intents": {"x": {"domain": "other", "request": "other", "hints": ["entities"]}}},
            "hints/default",
        ),
        (
            {"intents": {"x": {"domain": "from_entities", "request": "other", "hints": ["vibes"]}}},
            "intents.x.hints",
        ),
        (
            {"intents": {}, "device_domains": {"router": "space"}},
            "device_domains.router",
        ),
        (
            {"intents": {}, "keyword_domains": [{"domain": "cable", "patterns": ["(unclosed"]}]},
            "bad pattern",
        ),
    ],
)
def test_bad_tables_are_rejected_with_a_location(data, message):
    with pytest.raises(RoutingConfigError, match=message.replace("(", r"\(")):
        parse_table(data)


def test_load_table_reads_a_file(tmp_path):
    path = tmp_path / "routing.yml"
    path.write_text(
        "intents:\n  problem_cable: {domain: cable, request: troubleshoot}\n", encoding="utf-8"
    )
    assert load_table(path).route("problem_cable", [], "") == Route("cable", "troubleshoot")
