"""Benchmark (not a test): the console's search over many past conversations.

Seeds a fresh database (a temporary SQLite file unless `--database-url` names a
PostgreSQL database) with `--conversations` chats, four messages each, about a
third handed to agents, some rated and some with tickets; then runs typical
searches through the search service (api/services/search.py) as a supervisor
and as an agent, and prints each search's median and slowest time against the
target (300 ms for 100,000 conversations).

    .venv/bin/python -m scripts.bench_search                       # 100,000 chats
    .venv/bin/python -m scripts.bench_search --conversations 5000  # a quick look

Seeding 100,000 conversations takes a few minutes and a few hundred MB of disk;
do not run it on a machine other people are working on.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from api.config import Settings
from api.db import Database, run_migrations
from api.models import Agent, Conversation, Handoff, Message, Rating, Ticket
from api.services import search
from api.services.staff import Staff

TARGET_MS = 300.0
OPENINGS = [
    "my internet is not working",
    "the router shows a red light",
    "wifi keeps dropping every evening",
    "the TV box shows no signal",
    "mein Internet geht nicht",
    "der Router blinkt rot",
    "the app crashes when I log in",
    "my modem makes a clicking noise",
    "no picture on channel {n}",
    "the remote control stopped working",
    "speed is much slower than my plan",
    "Störung beim Fernsehen seit gestern",
]
REPLIES = [
    "Let's check the lights on your router first.",
    "Please restart the device and wait two minutes.",
    "Is the cable firmly plugged in at both ends?",
    "I've opened a ticket with everything we tried.",
]
FOLLOW_UPS = ["still not working", "it works now, thanks", "the light is orange", "yes"]
SKILLS = ["internet", "cable", "hardware", "software", "other"]
OUTCOMES = ["resolved", "returned", "resolved", "callback"]
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("router", {}),
    ("red light", {}),
    ("internet", {"skill": "internet"}),
    ("Störung", {}),
    ("channel 42", {}),
    ("restart", {"outcome": "resolved"}),
    ("wifi", {"rating": 1}),
    ("modem clicking", {"days": 7}),
    ("", {"skill": "cable", "days": 2}),
    ("zzzz nothing matches this", {}),
]


def seed(url: str, count: int, batch: int = 5000) -> tuple[int, float]:
    """Insert the conversations; returns an agent's id and the seconds it took."""
    rng = random.Random(25)
    engine = create_engine(url)
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        agent_id = connection.execute(
            insert(Agent).returning(Agent.id),
            {
                "email": f"bench-{uuid.uuid4().hex[:6]}@example.com",
                "name": "Bench Agent",
                "password_hash": "x",
                "role": "agent",
                "tier": 2,
                "skills": ["internet", "cable"],
                "capacity": 20,
                "active": True,
                "created_at": now,
            },
        ).scalar_one()
    done = 0
    while done < count:
        size = min(batch, count - done)
        conversations, messages, handoffs, ratings, tickets = [], [], [], [], []
        for _ in range(size):
            cid = uuid.uuid4().hex
            at = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            conversations.append(
                {
                    "id": cid,
                    "token_hash": secrets.token_hex(32),
                    "owner": "closed",
                    "created_at": at,
                    "updated_at": at,
                }
            )
            opening = rng.choice(OPENINGS).format(n=rng.randrange(1, 99))
            for offset, (sender, text) in enumerate(
                [
                    ("customer", opening),
                    ("bot", rng.choice(REPLIES)),
                    ("customer", rng.choice(FOLLOW_UPS)),
                    ("bot", rng.choice(REPLIES)),
                ]
            ):
                messages.append(
                    {
                        "conversation_id": cid,
                        "sender": sender,
                        "text": text,
                        "buttons": [],
                        "created_at": at + timedelta(seconds=offset * 20),
                    }
                )
            if rng.random() < 0.35:
                handoffs.append(
                    {
                        "conversation_id": cid,
                        "status": rng.choice(OUTCOMES),
                        "reason": "customer asked for a person",
                        "tier": 2,
                        "skill": rng.choice(SKILLS),
                        "priority": "normal",
                        "summary": f"Customer's first words: {opening}",
                        "agent_id": agent_id if rng.random() < 0.3 else None,
                        "waiting_since": at,
                        "callback_offered": False,
                        "created_at": at,
                    }
                )
                if rng.random() < 0.5:
                    ratings.append(
                        {
                            "conversation_id": cid,
                            "score": rng.randint(1, 5),
                            "comment": "",
                            "created_at": at,
                        }
                    )
            if rng.random() < 0.2:
                tickets.append(
                    {
                        "conversation_id": cid,
                        "domain": rng.choice(SKILLS),
                        "status": "open",
                        "priority": "normal",
                        "tier": 1,
                        "title": f"{opening[:60]}",
                        "summary": "Steps tried: restart, cables checked",
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        with engine.begin() as connection:
            connection.execute(insert(Conversation), conversations)
            connection.execute(insert(Message), messages)
            if handoffs:
                connection.execute(insert(Handoff), handoffs)
            if ratings:
                connection.execute(insert(Rating), ratings)
            if tickets:
                connection.execute(insert(Ticket), tickets)
        done += size
        print(f"  seeded {done:>7} conversations", end="\r", flush=True)
    engine.dispose()
    print()
    return agent_id, time.perf_counter() - started


async def measure(settings: Settings, agent_id: int, rounds: int) -> list[tuple[str, float, float]]:
    database = Database()
    database.connect(settings)
    supervisor = Staff(id=None, name="operator", role="operator")
    agent = Staff(id=agent_id, name="Bench Agent", role="agent", tier=2, skills=("internet",))
    results = []
    try:
        async with database.session() as session:  # connections and caches, not measured
            await search.search(
                session=session, staff=supervisor, query="router", filters=search.SearchFilters()
            )
        for who, staff in (("supervisor", supervisor), ("agent", agent)):
            for text, options in QUERIES:
                options = dict(options)
                days = options.pop("days", None)
                filters = search.SearchFilters(**options)
                if days:
                    filters.date_from = datetime.now(timezone.utc) - timedelta(days=days)
                times = []
                for _ in range(rounds):
                    async with database.session() as session:
                        started = time.perf_counter()
                        await search.search(
                            session=session, staff=staff, query=text, filters=filters
                        )
                        times.append((time.perf_counter() - started) * 1000)
                label = f"{who:<10} {text or '(filters only)'!r:<30} {options or ''}"
                results.append((label, statistics.median(times), max(times)))
    finally:
        await database.disconnect()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    url = arguments.database_url or f"sqlite:///{workdir / 'search.db'}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url,
        rasa_jwt_secret=secrets.token_urlsafe(24),
        action_token=secrets.token_urlsafe(24),
    )
    run_migrations(settings)
    print(f"Seeding {arguments.conversations} conversations into {url.split('@')[-1]} …")
    agent_id, seconds = seed(settings.sync_database_url, arguments.conversations)
    print(f"Seeded in {seconds:.1f} s.")
    results = asyncio.run(measure(settings, agent_id, arguments.rounds))
    print(f"\n{'search':<72} {'median':>8} {'slowest':>8}")
    for label, median, slowest in results:
        verdict = "PASS" if slowest <= TARGET_MS else "MISS"
        print(f"{label:<72} {median:>6.1f}ms {slowest:>6.1f}ms {verdict}")
    worst = max(slowest for _, _, slowest in results)
    print(
        f"\nSlowest search: {worst:.1f} ms over {arguments.conversations} conversations "
        f"(target {TARGET_MS:.0f} ms for 100,000): {'PASS' if worst <= TARGET_MS else 'MISS'}"
    )


if __name__ == "__main__":
    main()
