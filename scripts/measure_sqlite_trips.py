"""Counts and times the trips to aiosqlite's thread for one customer message.

Usage (from the repository root, in the API environment):

    .venv/bin/python scripts/measure_sqlite_trips.py            # as the API runs
    .venv/bin/python scripts/measure_sqlite_trips.py --stock    # SQLAlchemy's own cursors

Runs the gateway's two database units of work for a customer message (store
the message; store the status and the replies) `--messages` times on a fresh
SQLite database and prints the trips to aiosqlite's thread and the median time
of each (see api/sqlite_statements.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite.core

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api import sqlite_statements  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import Database, run_migrations  # noqa: E402
from api.services import conversations  # noqa: E402

trips = 0
_stock_trip = aiosqlite.core.Connection._execute


async def _counted_trip(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    global trips
    trips += 1
    return await _stock_trip(self, fn, *args, **kwargs)


async def measure(messages: int, stock: bool) -> None:
    global trips
    aiosqlite.core.Connection._execute = _counted_trip  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite:///{directory}/app.db")
        run_migrations(settings)
        database = Database()
        database.connect(settings)
        if stock:
            sqlite_statements.uninstall()
        async with database.session() as session:
            started_conversation = await conversations.start_conversation(session=session)
        conversation_id = started_conversation.conversation.id
        reply = ("Is the light on your router on?", [{"title": "Yes", "payload": "/affirm"}])
        results: dict[str, list[tuple[int, float]]] = {"store message": [], "store replies": []}
        store = conversations.ConversationStore(database)
        for number in range(messages):
            trips, started = 0, time.perf_counter()
            stored = await store.store_customer_message(
                conversation_id=conversation_id,
                client_id=f"m-{number}",
                text="my internet is down",
                payload=None,
            )
            assert stored is not None
            results["store message"].append((trips, time.perf_counter() - started))
            trips, started = 0, time.perf_counter()
            await store.answer(
                conversation_id=conversation_id, message_id=stored.message.id, replies=[reply]
            )
            results["store replies"].append((trips, time.perf_counter() - started))
        await database.disconnect()
    print(f"cursors: {'SQLAlchemy stock' if stock else 'one trip per statement'}")
    for name, values in results.items():
        counts = statistics.median(t for t, _ in values)
        seconds = statistics.median(s for _, s in values[len(values) // 10 :])
        print(f"  {name}: {counts:.0f} trips, median {seconds * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--stock", action="store_true", help="SQLAlchemy's own cursors")
    args = parser.parse_args()
    asyncio.run(measure(args.messages, args.stock))


if __name__ == "__main__":
    main()
