"""Checks that the Rasa speed-ups in bot/rasa/rasa_tuning.py keep the model's answers.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/check_rasa_tuning.py --model models/x.tar.gz

Loads the model the stock way (the CRF entity extractor trained again from its
saved data, as Rasa does) and again with the speed-ups applied (its saved
taggers, bot/rasa/entity_extractor.py), parses every
training example of data/nlu with both, and fails unless the intent, the intent
ranking with its confidences and the entities are identical for every message,
and unless the whole parse of every button payload (and of slash texts that are
not payloads) is identical. Prints how long each load took and the process's
memory after each.

It also checks that Rasa's debug log calls skip their copies only where nothing
else reads them (bot/rasa/log_copies.py), and the quick validation of action server
responses: for valid responses of every event type and for hundreds of broken
variants of them, the quick check must accept exactly what Rasa's full schema
accepts. And it checks the tracker store's memory (bot/rasa/tracker_store.py): over
long conversations with slots, resets, restarts and new sessions, the tracker
kept after every save must hold exactly the events a load from the database
gives.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

PLACES = 6  # confidences are compared to this many decimal places


TENSORFLOW_COMPONENTS = (
    "DIETClassifier",
    "TEDPolicy",
    "ResponseSelector",
    "UnexpecTEDIntentPolicy",
)


def uses_tensorflow(model: Path) -> bool:
    """Whether the model's prediction graph has a TensorFlow component."""
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.lstrip("/") == "metadata.json")
        metadata = json.load(archive.extractfile(member))  # type: ignore[arg-type]
    uses = {node["uses"] for node in metadata["predict_schema"]["nodes"].values()}
    return any(use.endswith(name) for use in uses for name in TENSORFLOW_COMPONENTS)


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def training_texts(nlu_dir: Path) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(nlu_dir))
    return sorted({m.get("text") for m in data.training_examples if m.get("text")})


def answer(parse: dict[str, Any]) -> tuple:
    """The parts of a parse the assistant acts on, rounded for comparison."""
    intent = parse.get("intent") or {}
    return (
        intent.get("name"),
        round(float(intent.get("confidence") or 0), PLACES),
        tuple(
            (r["name"], round(float(r["confidence"]), PLACES))
            for r in parse.get("intent_ranking") or []
        ),
        tuple(
            (e.get("entity"), str(e.get("value")), e.get("start"), e.get("end"))
            for e in parse.get("entities") or []
        ),
    )


def payloads(domain_file: Path) -> list[str]:
    """Button payloads for every intent, with entities, and slash texts that are not payloads."""
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(domain_file))
    texts = [f"/{intent}" for intent in domain.intents]
    texts += [
        ' /inform{"choice": "green"} ',
        '/inform{"device": "router", "light_color": "red", "light_state": "blinking"}',
        '/book_visit{"visit_slot": "2026-12-01T09:00"}',
        '/inform{"customer_ref": "C-1001", "postcode": "10115"}',
        "/affirm@0.7",
        '/inform{"choice": "a", "unknown_entity": "x"}',
        '/inform{"choice": broken json}',
        "/affirm and something else",
        "/no_such_intent",
        "/Affirm",
        "/",
        "/ my router is blinking red",
        "//affirm",
    ]
    return texts


def dialogue_histories(domain_file: Path) -> list[list[Any]]:
    """Every beginning of every story, rule and conversation test that ends before an action.

    The assistant predicts its next action from exactly such a history.
    """
    from rasa.core.training import load_data
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted

    domain = Domain.load(str(domain_file))
    histories: list[list[Any]] = []
    for source in ("data/stories", "data/rules", "tests/test_stories.yml"):
        for tracker in load_data(str(REPO_ROOT / source), domain, augmentation_factor=0):
            events = list(tracker.events)
            histories += [
                events[:i] for i, e in enumerate(events) if i and isinstance(e, ActionExecuted)
            ]
    return histories


def predict_all(agent: Any, histories: list[list[Any]]) -> list[Any]:
    """The policies' prediction (action probabilities, policy, events) after each history."""
    from rasa.shared.core.trackers import DialogueStateTracker

    slots = agent.domain.slots
    return [
        agent.processor._predict_next_with_tracker(
            DialogueStateTracker.from_events("check", history, slots=slots)
        )
        for history in histories
    ]


async def parse_all(
    model: Path, texts: list[str], slash_texts: list[str], histories: list[list[Any]]
) -> tuple[list[tuple], list[dict[str, Any]], list[Any], float, int]:
    """Answers to `texts`, whole parses of `slash_texts`, the action predictions after
    `histories`, load time and memory."""
    from rasa.core.agent import Agent

    started = time.monotonic()
    agent = Agent.load(str(model))
    seconds = time.monotonic() - started
    memory = rss_mb()
    answers = [answer(await agent.parse_message(text)) for text in texts]
    slash_parses = [await agent.parse_message(t) for t in slash_texts]
    return answers, slash_parses, predict_all(agent, histories), seconds, memory


VALID_EVENTS: list[dict[str, Any]] = [
    {"event": "slot", "name": "flow_state", "value": {"flow": "no_internet", "step": 2}},
    {"event": "slot", "name": "device", "value": None, "timestamp": 1700000000.5},
    {"event": "bot", "text": "Is the light blinking?", "data": {"buttons": [{"title": "Yes"}]}},
    {"event": "bot", "text": None, "metadata": {"utter_action": "utter_greet"}},
    {"event": "action", "name": "action_listen", "policy": "RulePolicy", "confidence": 1.0},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1}}},
    {"event": "followup", "name": "action_flow_continue"},
    {"event": "active_loop", "name": None},
    {"event": "reset_slots"},
    {"event": "restart"},
    {"event": "pause"},
    {"event": "resume"},
    {"event": "rewind"},
    {"event": "undo"},
    {"event": "session_started"},
    {"event": "export"},
    {"event": "reminder", "intent": "remind", "date_time": "2026-01-01T10:00:00", "name": "r1"},
    {"event": "cancel_reminder", "name": "r1"},
    {"event": "action_execution_rejected", "name": "action_x"},
    {"event": "loop_interrupted", "is_interrupted": True},
    {"event": "agent", "text": "Hello from a person"},
]
BROKEN_VALUES: list[Any] = [None, 1, 2.5, True, "x", [], {}, [1], {"a": 1}]


def action_responses() -> list[Any]:
    """Valid action server responses and broken variants of them."""
    responses: list[Any] = [
        {},
        {"events": [], "responses": []},
        {"events": VALID_EVENTS, "responses": [{"text": "hi", "buttons": []}]},
        [],
        "events",
        None,
        {"events": "slot"},
        {"events": [None]},
        {"events": [{"event": "no_such_event"}]},
        {"events": [{"name": "x"}]},
        {"responses": ["text"]},
        {"responses": {"text": "hi"}},
    ]
    for event in VALID_EVENTS:
        responses.append({"events": [event]})
        for key in sorted(set(event) | {"event", "timestamp", "metadata", "name", "text"}):
            for value in BROKEN_VALUES:
                responses.append({"events": [dict(event, **{key: value})]})
            responses.append({"events": [{k: v for k, v in event.items() if k != key}]})
    return responses


def check_action_responses() -> int:
    """Compares the quick response check with Rasa's full schema; returns the disagreements."""
    from jsonschema.exceptions import best_match

    check = importlib.import_module("bot.rasa.rasa_tuning").action_response_check()
    cases = action_responses()
    disagreements = 0
    for case in cases:
        full_valid = best_match(check.errors(case)) is None
        if check.is_valid(case) != full_valid:
            disagreements += 1
            if disagreements <= 10:
                print(f"DIFFERENT action response verdict (full schema: {full_valid}): {case!r}")
    accepted = sum(best_match(check.errors(case)) is None for case in cases)
    print(f"action responses: {len(cases)} checked, {accepted} valid, {disagreements} disagree")
    return disagreements


LOG_COPY_SOURCES = {
    # source: whether `copy` may be replaced in a module with this source
    'structlogger.debug("x", states=copy.deepcopy(states))': True,
    'structlogger.debug("x", copy.deepcopy(a), b=copy.deepcopy(b))': True,
    "states = copy.deepcopy(states)": False,
    'structlogger.info("x", states=copy.deepcopy(states))': False,
    'structlogger.debug("x", n=len(copy.deepcopy(states)))': False,
    'structlogger.debug("x", states=copy.deepcopy(s))\nt = copy.copy(s)': False,
    'structlogger.debug("x", s=copy.deepcopy(s))\ncopy = None': False,
    "x = 1": False,
}


def check_log_copies() -> int:
    """The debug log copies (bot/rasa/log_copies.py): replaced in every listed module, only
    where the source allows it, and still real copies while debug logs are written."""
    from rasa.utils.log_utils import configure_structlog

    log_copies = importlib.import_module("bot.rasa.log_copies")
    problems = 0
    for source, allowed in LOG_COPY_SOURCES.items():
        if log_copies.copies_only_for_debug_logs(source) != allowed:
            problems += 1
            print(f"DIFFERENT source verdict (expected {allowed}): {source!r}")
    if log_copies.installed != list(log_copies.MODULES):
        problems += 1
        print(f"DIFFERENT: debug log copies replaced in {log_copies.installed} only")
    value = [{"intent": "greet"}]
    copier = log_copies.DebugLogCopy()
    configure_structlog(logging.DEBUG)
    copied = copier.deepcopy(value)
    configure_structlog(logging.ERROR)
    if copied is value or copied != value or copier.deepcopy(value) is not value:
        problems += 1
        print("DIFFERENT: debug log values copied while dropped, or not copied while written")
    print(f"debug log copies: replaced in {len(log_copies.installed)} modules, {problems} problems")
    return problems


def conversation_turns(turns: int) -> list[list[Any]]:
    """The events of a long conversation, one list per customer turn."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        Restarted,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    intents = ("problem_internet", "affirm", "deny", "inform", "problem_persists")
    result: list[list[Any]] = []
    for turn in range(turns):
        events: list[Any] = []
        if turn in (0, 31):
            events += [ActionExecuted("action_session_start"), SessionStarted()]
            events += [ActionExecuted("action_listen")]
        intent = intents[turn % len(intents)]
        events.append(UserUttered(f"message {turn}", {"name": intent, "confidence": 0.9}))
        events.append(ActionExecuted("action_flow_continue"))
        events.append(SlotSet("flow_state", {"flow": "no_internet", "step": turn}))
        if turn % 7 == 3:
            events.append(SlotSet("ticket_number", f"T-{turn}"))
        if turn % 11 == 5:
            events.append(SlotSet("frustration_count", turn % 3))
        if turn == 17:
            events += [ActionExecuted("action_restart"), Restarted()]
        events.append(BotUttered(f"reply {turn}"))
        events.append(ActionExecuted("action_listen"))
        result.append(events)
    return result


def check_tracker_cache(postgres_url: str | None = None, turns: int = 45) -> int:
    """Runs conversations turn by turn; returns how often a retrieved tracker differs.

    Every tracker the store hands out (kept in memory or loaded) is compared with
    a fresh load from the database. Twice per conversation a second store, as a
    second Rasa instance would, adds an event behind the first one's back. Runs
    on SQLite, and on PostgreSQL too when `postgres_url` is given.
    """
    import tempfile
    import uuid

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet
    from sqlalchemy.engine import make_url

    store_class = importlib.import_module("bot.rasa.tracker_store").BoundedSQLTrackerStore
    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    differences = 0

    async def run(store: Any, other: Any, sender: str) -> None:
        nonlocal differences
        for number, events in enumerate(conversation_turns(turns), start=1):
            tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
            loaded = await other.retrieve(sender)
            expected = [e.as_dict() for e in loaded.events] if loaded else []
            if [e.as_dict() for e in tracker.events] != expected:
                differences += 1
                if differences <= 5:
                    print(f"DIFFERENT tracker ({sender}, turn {number})")
            tracker.update_with_events(events, domain)
            await store.save(tracker)
            if number in (20, 40):
                elsewhere = await other.retrieve(sender)
                elsewhere.update(SlotSet("ticket_number", f"elsewhere-{number}"))
                await other.save(elsewhere)

    with tempfile.TemporaryDirectory() as directory:
        databases: list[tuple[str, dict[str, Any]]] = [
            ("sqlite", {"dialect": "sqlite", "db": f"{directory}/tracker.db"})
        ]
        if postgres_url:
            url = make_url(postgres_url)
            databases.append(
                (
                    "postgresql",
                    {
                        "dialect": "postgresql",
                        "host": url.host,
                        "port": url.port,
                        "db": url.database,
                        "username": url.username,
                        "password": url.password,
                    },
                )
            )
        # Every turn but the first and the two after a write elsewhere uses the kept tracker.
        expected_uses = turns - 3
        for name, connection in databases:
            for max_turns in (1, 4, 10):
                store, other = (
                    store_class(domain, max_turns=max_turns, cache_size=size, **connection)
                    for size in (10, 0)
                )
                sender = f"check-{uuid.uuid4().hex}"
                try:
                    asyncio.run(run(store, other, sender))
                finally:
                    with store.session_scope() as session:
                        session.query(store.SQLEvent).filter_by(sender_id=sender).delete()
                        session.commit()
                if store.kept_trackers_used != expected_uses:
                    differences += 1
                    print(
                        f"KEPT TRACKER USED {store.kept_trackers_used} times, expected "
                        f"{expected_uses} ({name}, max_turns {max_turns})"
                    )
                if not store._compiled_inserts:
                    differences += 1
                    print(f"EVENTS NOT INSERTED WITH A COMPILED STATEMENT ({name})")
    checked = 3 * turns * len(databases)
    names = " and ".join(name for name, _ in databases)
    print(f"tracker memory ({names}): {checked} turns compared with a database load, ", end="")
    print(f"{differences} differ")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--nlu", type=Path, default=REPO_ROOT / "data" / "nlu")
    parser.add_argument(
        "--postgres", metavar="URL", help="also check the tracker store on this PostgreSQL database"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    for name in ("rasa", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)

    texts = training_texts(args.nlu)
    slash_texts = payloads(REPO_ROOT / "domain.yml")
    histories = dialogue_histories(REPO_ROOT / "domain.yml")
    # The stock load trains the CRF entity extractor again from its saved data,
    # as Rasa does; the tuned one loads the saved taggers.
    entity_extractor = importlib.import_module("bot.rasa.entity_extractor")
    entity_extractor.PersistedCRFEntityExtractor.load_saved_taggers = False
    stock, stock_slash, stock_predictions, stock_seconds, stock_memory = asyncio.run(
        parse_all(args.model, texts, slash_texts, histories)
    )
    entity_extractor.PersistedCRFEntityExtractor.load_saved_taggers = True
    importlib.import_module("bot.rasa.rasa_tuning").apply()
    tuned, tuned_slash, tuned_predictions, tuned_seconds, tuned_memory = asyncio.run(
        parse_all(args.model, texts, slash_texts, histories)
    )

    flat_calls = importlib.import_module("bot.rasa.rasa_tuning")._TracedPrediction.calls
    print(f"model: {args.model}  ({len(texts)} training examples parsed twice)")
    print(f"stock load: {stock_seconds:5.1f} s, RSS afterwards {stock_memory} MB")
    print(f"tuned load: {tuned_seconds:5.1f} s, RSS afterwards {tuned_memory} MB (both held)")
    different = [(t, a, b) for t, a, b in zip(texts, stock, tuned, strict=True) if a != b]
    for text, a, b in different[:10]:
        print(f"DIFFERENT: {text!r}\n  stock: {a}\n  tuned: {b}")
    if different:
        print(f"FAIL: {len(different)} of {len(texts)} answers differ")
        return 1
    with_tensorflow = uses_tensorflow(args.model)
    if not with_tensorflow:
        print("no TensorFlow component in the model: the traced-graph call is not used")
    else:
        print(f"DIET predictions through the traced graph's flat call: {flat_calls}")
    if with_tensorflow and flat_calls < len(texts):
        print("FAIL: the tuned load did not call DIET's traced graph directly")
        return 1
    slash_different = [
        (t, a, b) for t, a, b in zip(slash_texts, stock_slash, tuned_slash, strict=True) if a != b
    ]
    for text, a, b in slash_different[:10]:
        print(f"DIFFERENT parse of {text!r}\n  stock: {a}\n  tuned: {b}")
    print(
        f"button payloads and slash texts: {len(slash_texts)} parsed, {len(slash_different)} differ"
    )
    if slash_different:
        print("FAIL: a button payload is read differently")
        return 1
    prediction_different = [
        (h, a, b)
        for h, a, b in zip(histories, stock_predictions, tuned_predictions, strict=True)
        if a != b
    ]
    for history, a, b in prediction_different[:5]:
        print(f"DIFFERENT prediction after {[str(e) for e in history[-4:]]}")
        print(f"  stock: {a.policy_name} {a.max_confidence_index} {a.events}")
        print(f"  tuned: {b.policy_name} {b.max_confidence_index} {b.events}")
    graph_plans = importlib.import_module("bot.rasa.graph_runner").plans_made
    print(
        f"action predictions: {len(histories)} dialogue histories, "
        f"{len(prediction_different)} differ; graph plans made: {graph_plans}"
    )
    if prediction_different:
        print("FAIL: an action prediction differs")
        return 1
    if not graph_plans:
        print("FAIL: the tuned load did not run its graphs in planned order")
        return 1
    if check_log_copies():
        print("FAIL: Rasa's debug log copies are skipped where they should not be")
        return 1
    if check_action_responses():
        print("FAIL: the quick action response check disagrees with Rasa's schema")
        return 1
    if check_tracker_cache(args.postgres):
        print("FAIL: a tracker kept in memory differs from the one in the database")
        return 1
    print(
        f"OK: all {len(texts)} answers and {len(histories)} action predictions identical, "
        "action responses judged alike, "
        "kept trackers match the database"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
