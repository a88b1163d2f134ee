"""One trip per SQLite statement gives exactly what SQLAlchemy's own cursors give."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api import sqlite_statements


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    yield engine
    await engine.dispose()
    sqlite_statements.install()  # as the API runs


async def scenario(engine: AsyncEngine) -> list[Any]:
    """The kinds of statement the API runs, and what SQLAlchemy reports for each."""
    seen: list[Any] = []
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS notes"))
        await connection.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
        result = await connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        seen.append(("insert", result.lastrowid, result.rowcount))
        result = await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "a"}, {"body": "b"}]
        )
        seen.append(("insert many", result.rowcount))
        result = await connection.execute(
            text("INSERT INTO notes (body) VALUES ('c'), ('d') RETURNING id, body")
        )
        seen.append(("returning", result.all()))
        result = await connection.execute(text("UPDATE notes SET body = body || '!' WHERE id > 2"))
        seen.append(("update", result.rowcount))
        result = await connection.execute(text("SELECT id, body FROM notes ORDER BY id"))
        seen.append(("select", list(result.keys()), result.all()))
        result = await connection.execute(text("SELECT body FROM notes WHERE id = -1"))
        seen.append(("select nothing", result.all()))
    for statement, error in (
        ("INSERT INTO notes (body) VALUES ('first')", IntegrityError),
        ("SELECT * FROM no_such_table", OperationalError),
    ):
        with pytest.raises(error) as raised:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        seen.append(("error", type(raised.value.orig).__name__, str(raised.value.orig)))
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT count(*) FROM notes"))
        seen.append(("rolled back", result.scalar()))
    return seen


async def test_the_same_results_and_errors_as_sqlalchemys_cursors(engine: AsyncEngine) -> None:
    sqlite_statements.uninstall()
    stock = await scenario(engine)
    sqlite_statements.install()
    one_trip = await scenario(engine)
    assert one_trip == stock
    assert ("select nothing", []) in one_trip and ("rolled back", 5) in one_trip


async def test_one_trip_per_statement(engine: AsyncEngine, trips: list[str]) -> None:
    sqlite_statements.install()
    async with engine.connect() as connection:
        trips.clear()
        await connection.execute(text("SELECT 1"))
        assert trips == ["_run_statement"]


@pytest.fixture
async def notes(engine: AsyncEngine) -> AsyncEngine:
    """The engine as the API runs it, with an empty `notes` table."""
    sqlite_statements.install()
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
    return engine


async def test_a_committed_write_takes_no_rollback_trip_when_the_pool_takes_it_back(
    notes: AsyncEngine, trips: list[str]
) -> None:
    engine = notes
    trips.clear()
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
    assert trips == ["_run_statement", "commit"]


async def test_a_read_only_unit_of_work_takes_one_trip_per_statement_only(
    notes: AsyncEngine, trips: list[str]
) -> None:
    engine = notes
    trips.clear()
    async with engine.begin() as connection:
        await connection.execute(text("SELECT count(*) FROM notes"))
    async with engine.connect() as connection:
        await connection.execute(text("SELECT count(*) FROM notes"))
    assert trips == ["_run_statement", "_run_statement"]


async def test_an_open_write_is_still_rolled_back_on_error_and_when_given_back(
    notes: AsyncEngine, trips: list[str]
) -> None:
    engine = notes
    with pytest.raises(RuntimeError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('undone')"))
            raise RuntimeError("the unit of work fails")
    # Not committed and not rolled back by the code: the pool's reset does it.
    connection = await engine.connect()
    await connection.execute(text("INSERT INTO notes (body) VALUES ('abandoned')"))
    await connection.close()
    trips.clear()
    async with engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert count == 0
    assert trips == ["_run_statement"]


async def test_a_close_after_a_forced_stop_ends_instead_of_waiting_forever(
    tmp_path: Path,
) -> None:
    """SQLAlchemy closes an invalidated connection in a task of its own and, when
    cancelled meanwhile, stops it by force; the close must still end."""
    import asyncio
    import time

    import aiosqlite

    sqlite_statements.install()
    connection = await aiosqlite.connect(tmp_path / "stop.db")
    busy = asyncio.ensure_future(connection._execute(time.sleep, 0.3))
    await asyncio.sleep(0.05)  # the connection's thread is busy
    forced = connection.stop()
    assert connection.stop() is None  # stopping once is enough
    with pytest.raises(ValueError, match="Connection closed"):
        await asyncio.wait_for(connection.close(), timeout=5)
    await busy
    await asyncio.wait_for(forced, timeout=5)
    assert not connection._thread.is_alive() or connection._thread.join(5) is None
