"""Synthetic conversation history for flow analytics: `make seed-analytics`.

Writes conversations, their flow events (walked through the real flows of
`data/flows`: real step ids, choices, check results and outcomes), handoffs
and the messages the assistant did not understand, spread over the last
`--days` days, then builds the flow-run rollup once (as the first analytics
request would). Reproducible with `--seed`.

By default it writes a database of its own (var/analytics_bench.db), never the
running assistant's; `--database-url` chooses another (PostgreSQL too). The
database should be empty: the script refuses one that has conversations
unless `--append` is given.

    .venv/bin/python scripts/seed_analytics.py --conversations 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select  # noqa: E402

from api.config import PROJECT_ROOT, Settings  # noqa: E402
from api.db import Database, run_migrations  # noqa: E402
from api.models import Conversation, FlowEvent, Handoff, NotUnderstood  # noqa: E402
from api.services import analytics  # noqa: E402
from bot.flows.loader import FlowLibrary  # noqa: E402
from bot.flows.model import Flow  # noqa: E402

DEFAULT_DATABASE = f"sqlite:///{PROJECT_ROOT / 'var' / 'analytics_bench.db'}"
OPERATION_FLOWS = {"part": "request_part", "visit": "book_visit", "goodwill": "goodwill"}
BATCH = 20_000

# What customers write that matches no choice, or no flow (English and German).
UNMATCHED = [
    "idk",
    "not sure what you mean",
    "the thing with the lights",
    "maybe? it's complicated",
    "ich weiß nicht",
    "keine Ahnung",
    "was meinen Sie damit",
    "it's the box under the TV",
    "sort of, sometimes",
    "manchmal ja, manchmal nein",
    "where do I find that",
    "wo finde ich das",
    "both",
    "beides",
    "the blue one",
]
FALLBACKS = [
    ("my thing is broken again", "problem_hardware", 0.31),
    ("mein Ding geht wieder nicht", "problem_hardware", 0.28),
    ("everything is slow since the update", "problem_software", 0.36),
    ("the picture does weird stuff", "problem_cable", 0.33),
    ("Bild spinnt", "problem_cable", 0.29),
    ("can you help me with my contract", "account", 0.22),
    ("why is my bill so high", "billing", 0.41),
    ("hello??", "greet", 0.38),
    ("no signal on the thing", "problem_cable", 0.3),
    ("kein netz", "problem_internet", 0.35),
]


@dataclass
class Turn:
    """The events of one customer message, stored with one timestamp."""

    at: datetime
    events: list[tuple[str, str, str, Optional[str]]] = field(default_factory=list)


@dataclass
class History:
    conversations: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    not_understood: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        for rows in (self.conversations, self.events, self.handoffs, self.not_understood):
            rows.clear()


class Walker:
    """Walks a flow the way customers do: answers, misses, leaving, asking for a person."""

    def __init__(self, library: FlowLibrary, rng: random.Random) -> None:
        self.library = library
        self.rng = rng
        flows = library.flows()
        self.entry_flows = sorted(f.id for f in flows.values() if f.intents)
        # Some problems are far more common than others.
        self.weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.entry_flows))]
        rng.shuffle(self.weights)

    def run(
        self,
        flow: Flow,
        at: datetime,
        *,
        miss_rate: float,
        leave_rate: float,
        person_rate: float,
    ) -> tuple[list[Turn], Optional[str], bool, list[tuple[str, str, str, datetime]]]:
        """One run: its turns, its outcome (None: left), whether a person was asked for,
        and the (text, flow, step, time) of every miss."""
        turn = Turn(at, [("start", flow.id, flow.start, None)])
        turns, misses = [turn], []
        stack: list[tuple[str, Optional[str]]] = []
        current, step_id = flow, flow.start
        for _ in range(200):
            if step_id is None:
                if not stack:
                    return turns, None, False, misses
                flow_id, step_id = stack.pop()
                current = self.library.get(flow_id) or current
                continue
            step = current.steps[step_id]
            turn.events.append(("step", current.id, step.id, None))
            if step.kind == "outcome":
                turn.events.append(("outcome", current.id, step.id, step.outcome or "resolved"))
                return turns, step.outcome or "resolved", False, misses
            if step.waits_for_customer:
                if self.rng.random() < leave_rate:
                    return turns, None, False, misses
                if self.rng.random() < person_rate:
                    return turns, None, True, misses
                at = at + timedelta(seconds=self.rng.randint(8, 90))
                turn = Turn(at)
                turns.append(turn)
                if self.rng.random() < miss_rate:
                    text = self.rng.choice(UNMATCHED)
                    turn.events.append(("miss", current.id, step.id, text))
                    misses.append((text, current.id, step.id, at))
                    at = at + timedelta(seconds=self.rng.randint(8, 60))
                    turn = Turn(at)
                    turns.append(turn)
                if step.kind == "ask_choice":
                    choice = self.rng.choice(step.choices)
                    turn.events.append(("answer", current.id, step.id, choice.value))
                    step_id = choice.next or step.next
                elif step.kind == "ask_yes_no":
                    said_yes = self.rng.random() < 0.5
                    turn.events.append(("answer", current.id, step.id, str(said_yes).lower()))
                    step_id = step.yes if said_yes else step.no
                else:
                    turn.events.append(("answer", current.id, step.id, "AB-1234"))
                    step_id = step.next
            elif step.kind == "check":
                result = self.rng.choice(sorted(step.results))
                turn.events.append(("answer", current.id, step.id, result))
                step_id = step.results[result]
            elif step.kind == "branch":
                targets = [target for _, target in step.branches] + [step.otherwise]
                step_id = self.rng.choice([t for t in targets if t])
            elif step.kind == "call":
                callee = self.library.get(step.call or "")
                stack.append((current.id, step.next))
                current, step_id = callee or current, (callee.start if callee else None)
            elif step.kind == "return":
                if not stack:
                    return turns, None, False, misses
                flow_id, step_id = stack.pop()
                current = self.library.get(flow_id) or current
            else:  # say
                step_id = step.next
        return turns, None, False, misses


def conversation(
    walker: Walker, rng: random.Random, conversation_id: str, at: datetime, history: History
) -> None:
    """One customer's chat: maybe a fallback or two, then a flow (or several)."""
    history.conversations.append(
        {
            "id": conversation_id,
            "token_hash": secrets.token_hex(32),
            "owner": "closed",
            "created_at": at,
            "updated_at": at,
        }
    )
    if rng.random() < 0.12:
        text, intent, confidence = rng.choice(FALLBACKS)
        history.not_understood.append(
            {
                "conversation_id": conversation_id,
                "kind": "fallback",
                "text": text,
                "intent": intent,
                "confidence": confidence,
                "flow_id": None,
                "step_id": None,
                "created_at": at,
            }
        )
        at += timedelta(seconds=rng.randint(10, 60))
    if rng.random() < 0.1:
        return  # said thanks and left, or asked about the bill
    flow = walker.library.get(rng.choices(walker.entry_flows, walker.weights)[0])
    for _ in range(3):
        if flow is None:
            return
        turns, outcome, person, misses = walker.run(
            flow, at, miss_rate=0.07, leave_rate=0.04, person_rate=0.015
        )
        for turn in turns:
            for kind, flow_id, step_id, value in turn.events:
                history.events.append(
                    {
                        "conversation_id": conversation_id,
                        "flow_id": flow_id,
                        "step_id": step_id,
                        "kind": kind,
                        "value": value,
                        "created_at": turn.at,
                    }
                )
        at = turns[-1].at
        for text, flow_id, step_id, missed_at in misses:
            history.not_understood.append(
                {
                    "conversation_id": conversation_id,
                    "kind": "miss",
                    "text": text,
                    "intent": rng.choice(["inform", "affirm", "deny", "problem_persists"]),
                    "confidence": round(rng.uniform(0.2, 0.6), 3),
                    "flow_id": flow_id,
                    "step_id": step_id,
                    "created_at": missed_at,
                }
            )
        if person or outcome == "handoff":
            at += timedelta(seconds=1)
            history.handoffs.append(
                {
                    "conversation_id": conversation_id,
                    "status": "resolved",
                    "reason": "customer asked for a person" if person else f"flow {flow.id}",
                    "tier": 2,
                    "skill": flow.domain if flow.domain in ("internet", "cable") else "other",
                    "priority": "normal",
                    "summary": "",
                    "waiting_since": at,
                    "callback_offered": False,
                    "created_at": at,
                }
            )
            return
        follow = OPERATION_FLOWS.get(outcome or "")
        if follow is None or flow.id == follow or rng.random() < 0.2:
            return
        flow = walker.library.get(follow)
        at += timedelta(seconds=1)


def write(engine: Any, history: History) -> None:
    with engine.begin() as connection:
        for model, rows in (
            (Conversation, history.conversations),
            (FlowEvent, history.events),
            (Handoff, history.handoffs),
            (NotUnderstood, history.not_understood),
        ):
            if rows:
                connection.execute(insert(model.__table__), rows)
    history.clear()


async def build_rollup(settings: Settings) -> int:
    database = Database()
    database.connect(settings)
    try:
        async with database.session() as session:
            return await analytics.refresh_flow_runs(session)
    finally:
        await database.disconnect()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="spread over this many past days")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--flows", type=Path, default=PROJECT_ROOT / "data" / "flows")
    parser.add_argument("--append", action="store_true", help="add to a database with history")
    args = parser.parse_args(argv)

    settings = Settings(_env_file=None, database_url=args.database_url, environment="test")
    run_migrations(settings)
    engine = create_engine(settings.sync_database_url)
    with engine.connect() as connection:
        existing = connection.execute(select(func.count()).select_from(Conversation)).scalar()
    if existing and not args.append:
        print(f"The database has {existing} conversations; use --append to add more.")
        return 1

    library = FlowLibrary(args.flows)
    library.reload()
    rng = random.Random(args.seed)
    walker = Walker(library, rng)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    history = History()
    started = time.perf_counter()
    prefix = secrets.token_hex(4)
    for number in range(args.conversations):
        # Busier in the day than at night, and the same every week.
        at = now - timedelta(days=rng.uniform(0, args.days), minutes=30)
        at = at.replace(hour=min(23, max(6, int(rng.gauss(14, 4)))))
        if at > now - timedelta(hours=1):
            at -= timedelta(days=1)
        conversation(walker, rng, f"seed{prefix}{number:08d}", at, history)
        if len(history.events) >= BATCH:
            write(engine, history)
    write(engine, history)
    engine.dispose()
    inserted = time.perf_counter() - started
    print(f"Wrote {args.conversations} conversations in {inserted:.1f} s.")
    started = time.perf_counter()
    rebuilt = asyncio.run(build_rollup(settings))
    took = time.perf_counter() - started
    print(f"Built the flow-run rollup ({rebuilt} conversation rebuilds) in {took:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
