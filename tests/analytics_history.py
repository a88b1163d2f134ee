"""A small flow history with known figures, for the analytics tests.

One flow, `router_check` (tests/analytics_history.py writes it), and seven runs
on one day in six conversations, each written as the diagnosis service writes
them (a customer message's events share one timestamp):

| conversation | what happened | outcome | turns | seconds |
|---|---|---|---|---|
| c1 | green, restarted: fixed | resolved, no person | 2 | 60 |
| c2 | "the blinking one" not understood, then red | ticket | 2 | 120 |
| c3 | green, then silence at `restart` | abandoned | 1 | 30 |
| c4 | asked for a person at `lights` | handoff | 0 | 0 |
| c5 | green, restarted: fixed, then asked for a person | resolved, person | 2 | 60 |
| c6 | "Blue light" not understood, started again | abandoned (closed) | 1 | 30 |
| c6 | red | ticket | 1 | 30 |
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Conversation, FlowEvent, Handoff, NotUnderstood

FLOW_ID = "router_check"
DAY = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)

FLOW_YAML = """\
flow:
  id: router_check
  domain: internet
  title: Router check
  description: Looks at the router's lights and restarts it.
  default: true
  languages: [en]
  triggers:
    intents: [problem_internet]
  start: lights
  steps:
    - id: lights
      label: Router lights
      ask: What colour are the router's lights?
      choices:
        - value: green
          title: Green
          next: restart
        - value: red
          title: Red
          next: broken
    - id: restart
      label: Restarted the router
      ask: Please restart the router. Does it work now?
      yes: fixed
      no: broken
    - id: fixed
      outcome: resolved
      say: Great, it works again.
    - id: broken
      outcome: ticket
      title: Router fault
      say: I'll open a ticket for a technician.
"""


def write_flow(directory: Path, *, default: bool = True) -> Path:
    """The test flow; `default=False` beside the shipped flows, whose internet default
    is `internet_no_connection` (a domain has one default flow)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = FLOW_YAML if default else FLOW_YAML.replace("  default: true\n", "")
    (directory / f"{FLOW_ID}.yml").write_text(text, encoding="utf-8")
    return directory


# (conversation, seconds after the conversation's start, [(kind, step, value), ...])
TURNS: list[tuple[str, int, list[tuple[str, str, str | None]]]] = [
    ("c1", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c1", 30, [("answer", "lights", "green"), ("step", "restart", None)]),
    (
        "c1",
        60,
        [("answer", "restart", "true"), ("step", "fixed", None), ("outcome", "fixed", "resolved")],
    ),
    ("c2", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c2", 60, [("miss", "lights", "the blinking one")]),
    (
        "c2",
        120,
        [("answer", "lights", "red"), ("step", "broken", None), ("outcome", "broken", "ticket")],
    ),
    ("c3", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c3", 30, [("answer", "lights", "green"), ("step", "restart", None)]),
    ("c4", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c5", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c5", 30, [("answer", "lights", "green"), ("step", "restart", None)]),
    (
        "c5",
        60,
        [("answer", "restart", "true"), ("step", "fixed", None), ("outcome", "fixed", "resolved")],
    ),
    ("c6", 0, [("start", "lights", None), ("step", "lights", None)]),
    ("c6", 30, [("miss", "lights", "Blue light")]),
    ("c6", 60, [("start", "lights", None), ("step", "lights", None)]),
    (
        "c6",
        90,
        [("answer", "lights", "red"), ("step", "broken", None), ("outcome", "broken", "ticket")],
    ),
]
# Handoff rows: (conversation, seconds after its start).
HANDOFFS = [("c4", 40), ("c5", 90)]
# What the review list holds: (conversation, kind, text, guessed intent, confidence, step).
NOT_UNDERSTOOD = [
    ("c2", "miss", "the blinking one", "inform", 0.41, "lights"),
    ("c6", "miss", "Blue light", "inform", 0.38, "lights"),
    ("c3", "fallback", "my thingy is broken", "problem_hardware", 0.31, None),
    ("c4", "fallback", "My thingy is broken", "problem_hardware", 0.35, None),
    ("c5", "fallback", "my thingy is broken", "problem_internet", 0.29, None),
]

EXPECTED = {
    "started": 7,
    "outcomes": {"resolved": 2, "ticket": 2, "part": 0, "visit": 0, "goodwill": 0, "handoff": 1},
    "abandoned": 2,
    "contained": 1,
    "median_turns": 1.0,
    "median_minutes": 0.5,
    "reached": {"lights": 6, "restart": 3, "broken": 2, "fixed": 2},
    "answers": {"lights": {"green": 3, "red": 2}, "restart": {"true": 2}},
    "misses": {"lights": {"the blinking one": 1, "Blue light": 1}},
    "abandoned_here": {"lights": 1, "restart": 1},
    "handoff_here": {"lights": 1},
}


def start_of(conversation: str, day: datetime = DAY) -> datetime:
    return day + timedelta(minutes=10 * int(conversation.lstrip("c")))


async def write_history(session: AsyncSession, day: datetime = DAY, prefix: str = "") -> None:
    """Writes the conversations, their flow events, handoffs and review-list messages."""
    names = sorted({name for name, _, _ in TURNS})
    await session.execute(
        insert(Conversation.__table__),
        [
            {
                "id": f"{prefix}{name}",
                "token_hash": f"{prefix}{name}".ljust(64, "0"),
                "owner": "bot",
                "created_at": start_of(name, day),
                "updated_at": start_of(name, day),
            }
            for name in names
        ],
    )
    for name, offset, events in TURNS:
        at = start_of(name, day) + timedelta(seconds=offset)
        await session.execute(
            insert(FlowEvent.__table__),
            [
                {
                    "conversation_id": f"{prefix}{name}",
                    "flow_id": FLOW_ID,
                    "step_id": step,
                    "kind": kind,
                    "value": value,
                    "created_at": at,
                }
                for kind, step, value in events
            ],
        )
    for name, offset in HANDOFFS:
        await add_handoff(
            session, f"{prefix}{name}", start_of(name, day) + timedelta(seconds=offset)
        )
    await session.execute(
        insert(NotUnderstood.__table__),
        [
            {
                "conversation_id": f"{prefix}{name}",
                "kind": kind,
                "text": text,
                "intent": intent,
                "confidence": confidence,
                "flow_id": FLOW_ID if step else None,
                "step_id": step,
                "created_at": start_of(name, day),
            }
            for name, kind, text, intent, confidence, step in NOT_UNDERSTOOD
        ],
    )
    await session.commit()


async def add_handoff(session: AsyncSession, conversation_id: str, at: datetime) -> None:
    await session.execute(
        insert(Handoff.__table__).values(
            conversation_id=conversation_id,
            status="resolved",
            reason="customer asked for a person",
            tier=2,
            skill="internet",
            priority="normal",
            summary="",
            waiting_since=at,
            callback_offered=False,
            created_at=at,
        )
    )
