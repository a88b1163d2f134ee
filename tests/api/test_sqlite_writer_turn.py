"""SQLite's one writer at a time: writers wait their turn on the event loop, readers never."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from api import sqlite_statements
from api.db import LAST_IN_TRANSACTION, Database
from tests.conftest import make_settings


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database()
    database.connect(make_settings(tmp_path))
    async with database.connection() as connection:
        await connection.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
    try:
        yield database
    finally:
        await database.disconnect()


def turn_of(db: Database) -> sqlite_statements.WriterTurn:
    assert db.sqlite_writer is not None
    return db.sqlite_writer


async def count_notes(db: Database) -> int:
    async with db.engine.connect() as connection:
        return (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one()


async def test_a_second_writer_waits_its_turn_and_goes_when_the_first_commits(
    db: Database,
) -> None:
    first_wrote = asyncio.Event()
    first_may_commit = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with db.connection() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            first_wrote.set()
            await first_may_commit.wait()
            order.append("first commits")

    async def second() -> None:
        await first_wrote.wait()
        async with db.connection() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('second')"))
            order.append("second wrote")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_wrote.wait()
    for _ in range(20):  # the second writer reaches its INSERT and waits
        await asyncio.sleep(0.005)
        if turn_of(db).waiting:
            break
    assert turn_of(db).waiting == 1 and order == []
    first_may_commit.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["first commits", "second wrote"]
    assert await count_notes(db) == 2


async def test_readers_do_not_wait_for_a_writer(db: Database) -> None:
    async with db.connection() as writer:
        await writer.execute(text("INSERT INTO notes (body) VALUES ('pending')"))
        # Another connection reads while the write transaction is open.
        assert await asyncio.wait_for(count_notes(db), 2) == 0
    assert await count_notes(db) == 1


async def test_a_failed_or_abandoned_transaction_gives_the_turn_back(db: Database) -> None:
    async with db.connection() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('taken')"))
    with pytest.raises(IntegrityError):
        async with db.connection() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('taken')"))
    # A connection returned to the pool without commit: the pool rolls it back.
    async with db.engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('abandoned')"))
    async with db.session() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('next')"))
    assert turn_of(db).waiting == 0
    assert await count_notes(db) == 2  # 'taken' and 'next'


async def test_many_writers_at_once_all_get_through_one_at_a_time(db: Database) -> None:
    steps: list[tuple[str, int]] = []

    async def writer(number: int) -> None:
        async with db.connection() as connection:
            await connection.execute(
                text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"note {number}"}
            )
            steps.append(("wrote", number))
            await asyncio.sleep(0)  # hold the turn across an await, as real units of work do
            await connection.execute(
                text("UPDATE notes SET body = body || '!' WHERE body = :body"),
                {"body": f"note {number}"},
            )
            steps.append(("done", number))

    await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(40))), 20)
    # Each transaction ran whole before the next began.
    assert all(
        steps[i][0] == "wrote" and steps[i + 1] == ("done", steps[i][1])
        for i in range(0, len(steps), 2)
    )
    assert sorted(number for kind, number in steps if kind == "done") == list(range(40))
    assert await count_notes(db) == 40
    assert turn_of(db).waiting == 0


async def test_a_writer_that_never_gets_its_turn_hears_database_is_locked(
    db: Database,
) -> None:
    turn_of(db).timeout_seconds = 0.05
    async with db.connection() as holder:
        await holder.execute(text("INSERT INTO notes (body) VALUES ('held')"))
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.connection() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('late')"))
    assert await count_notes(db) == 1


async def test_a_last_statement_commits_in_its_own_trip_and_gives_the_turn_back(
    db: Database, trips: list[str]
) -> None:
    trips.clear()
    async with db.connection() as connection:
        await connection.execute(
            text("INSERT INTO notes (body) VALUES ('kept')"), execution_options=LAST_IN_TRANSACTION
        )
        assert await count_notes(db) == 1  # committed already, seen by another connection
    assert trips[0] == "_run_statement" and "commit" not in trips
    assert turn_of(db).held_by(None) and turn_of(db).waiting == 0  # nobody holds it
    async with db.connection() as connection:  # the next writer gets the turn at once
        await asyncio.wait_for(
            connection.execute(text("INSERT INTO notes (body) VALUES ('next')")), timeout=1
        )
    assert await count_notes(db) == 2


async def test_a_failing_last_statement_commits_nothing_of_its_unit(db: Database) -> None:
    async with db.connection() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('taken')"))
    with pytest.raises(IntegrityError):
        async with db.connection() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('first of two')"))
            await connection.execute(
                text("INSERT INTO notes (body) VALUES ('taken')"),
                execution_options=LAST_IN_TRANSACTION,
            )
    assert await count_notes(db) == 1
    async with db.connection() as connection:  # the turn was given back
        await asyncio.wait_for(
            connection.execute(text("INSERT INTO notes (body) VALUES ('after')")), timeout=1
        )
    assert await count_notes(db) == 2
