"""How the API talks to SQLite: one trip per statement, and one writer at a time.

aiosqlite runs SQLite in a thread of its own and every call into it is a trip
there and back (a queue, a thread wake-up, a callback on the event loop).
SQLAlchemy's aiosqlite adapter makes four such trips per statement: open a
cursor, execute, fetch the rows, close the cursor. Storing a customer message
took 19 trips and storing the replies 8 (`scripts/measure_sqlite_trips.py`),
about 0.1–0.2 ms each, on the path of every message.

`install()` makes the adapter do the same four steps in one trip: the same
calls on the same sqlite3 connection in the same thread, in the same order,
with the same results and errors. Server-side cursors, which keep their
cursor open, are left as they are. Applied by api/db.py for SQLite only;
PostgreSQL does not use this adapter.

SQLite lets one connection write at a time. A second writer that finds the
database locked sleeps in SQLite's busy handler, backing off to 100 ms between
tries, and nobody wakes it when the lock is free: during 50 busy conversations
some statements waited 100-800 ms that way (`UPDATE messages` p99 129 ms). So
the adapter takes the database's `WriterTurn` before the statement that opens a
write transaction (Python's sqlite3 opens one before the first INSERT, UPDATE,
DELETE or REPLACE) and gives it back when the transaction commits or rolls
back. Writers wait on the event loop in arrival order and the next one goes
the moment the last commits. Reads do not wait: in WAL mode they never block.

A statement run with the execution option `COMMIT_WITH_STATEMENT` (see
`api.db.LAST_IN_TRANSACTION`) commits in the same trip, right after its rows
are fetched: the last statement of a unit of work, such as storing a chat
message before it is forwarded. SQLAlchemy's own commit then finds no open
transaction and takes no trip. A statement that fails commits nothing.

Two repairs for connections that SQLAlchemy invalidates (a statement cancelled
half-way): such a connection gives its writer turn back when it is terminated,
and aiosqlite's `stop()` acts once, so that the close SQLAlchemy starts for it
cannot wait forever for a worker thread that has already ended.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import deque
from typing import Any, Optional

import aiosqlite.core
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)

from api.in_flight import InFlightLimit

_stock_execute = AsyncAdapt_aiosqlite_cursor.execute
_stock_executemany = AsyncAdapt_aiosqlite_cursor.executemany
_stock_commit = AsyncAdapt_aiosqlite_connection.commit
_stock_rollback = AsyncAdapt_aiosqlite_connection.rollback
_stock_close = AsyncAdapt_aiosqlite_connection.close
_stock_terminate = AsyncAdapt_aiosqlite_connection.terminate
_stock_stop = aiosqlite.core.Connection.stop

# The statements before which Python's sqlite3 opens a write transaction.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterTurn:
    """One write transaction at a time on one SQLite database, in arrival order."""

    def __init__(self, *, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._turn = InFlightLimit(1)
        self._holder: Optional[Any] = None

    @property
    def waiting(self) -> int:
        return self._turn.waiting

    def held_by(self, connection: Any) -> bool:
        return self._holder is connection

    async def take(self, connection: Any) -> None:
        try:
            await self._turn.acquire(timeout=self.timeout_seconds)
        except asyncio.TimeoutError:
            # What SQLite itself says when its busy timeout runs out.
            raise sqlite3.OperationalError("database is locked") from None
        self._holder = connection

    def give_back(self, connection: Any) -> None:
        if self._holder is connection:
            self._holder = None
            self._turn.release()


# aiosqlite connection -> the turn of its database, set when the connection opens.
_turns: weakref.WeakKeyDictionary[Any, WriterTurn] = weakref.WeakKeyDictionary()


def share_writer_turn(dbapi_connection: Any, turn: WriterTurn) -> None:
    """Makes a new connection (SQLAlchemy's "connect" event) wait for `turn` to write."""
    _turns[dbapi_connection._connection] = turn


def _take_turn_to_write(adapt_connection: Any, operation: Any) -> None:
    turn = _turns.get(adapt_connection._connection)
    if turn is None or turn.held_by(adapt_connection):
        return
    if isinstance(operation, str) and operation.lstrip()[:7].upper().startswith(_WRITES):
        adapt_connection.await_(turn.take(adapt_connection))


def _give_turn_back(adapt_connection: Any) -> None:
    turn = _turns.get(adapt_connection._connection)
    if turn is not None:
        turn.give_back(adapt_connection)


def _run_statement(
    connection: Any, operation: Any, parameters: Optional[Any], commit: bool = False
) -> tuple:
    """Runs in aiosqlite's thread: execute, fetch, close, like the adapter's four
    trips; then the commit, if the statement ends its transaction."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            result = cursor.description, cursor.fetchall(), -1, -1
        else:
            result = None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()
    if commit:
        connection._conn.commit()
    return result


def _run_many(connection: Any, operation: Any, seq_of_parameters: Any) -> tuple:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _execute(
    self: AsyncAdapt_aiosqlite_cursor,
    operation: Any,
    parameters: Optional[Any] = None,
    commit: bool = False,
) -> Any:
    if self.server_side:
        return _stock_execute(self, operation, parameters)
    _take_turn_to_write(self._adapt_connection, operation)
    try:
        description, rows, lastrowid, rowcount = self.await_(
            self._connection._execute(
                _run_statement, self._connection, operation, parameters, commit
            )
        )
    except Exception as error:
        self._adapt_connection._handle_exception(error)
    self.description = description
    self.lastrowid, self.rowcount = lastrowid, rowcount
    if description:
        self._rows = deque(rows)


def _executemany(self: AsyncAdapt_aiosqlite_cursor, operation: Any, seq_of_parameters: Any) -> Any:
    _take_turn_to_write(self._adapt_connection, operation)
    try:
        lastrowid, rowcount = self.await_(
            self._connection._execute(_run_many, self._connection, operation, seq_of_parameters)
        )
    except Exception as error:
        self._adapt_connection._handle_exception(error)
    self.description = None
    self.lastrowid, self.rowcount = lastrowid, rowcount


def _nothing_to_end(self: AsyncAdapt_aiosqlite_connection) -> bool:
    """No transaction is open, so sqlite3's commit() and rollback() would do nothing.

    sqlite3 asks SQLite the same question (`sqlite3_get_autocommit`) before it
    commits or rolls back, and does nothing when no transaction is open. Asking
    it here saves the trip: SQLAlchemy's pool rolls back every connection it
    takes back, also after a commit, and read-only units of work commit too.
    """
    try:
        return not self._connection.in_transaction
    except (ValueError, sqlite3.ProgrammingError):
        return False  # not open (any more): the stock call raises the proper error


def _commit(self: AsyncAdapt_aiosqlite_connection) -> None:
    try:
        if not _nothing_to_end(self):
            _stock_commit(self)
    finally:
        _give_turn_back(self)


def _rollback(self: AsyncAdapt_aiosqlite_connection) -> None:
    # Also how the pool resets a connection it takes back.
    try:
        if not _nothing_to_end(self):
            _stock_rollback(self)
    finally:
        _give_turn_back(self)


def _close(self: AsyncAdapt_aiosqlite_connection) -> None:
    try:
        _stock_close(self)
    finally:
        _give_turn_back(self)


def _terminate(self: AsyncAdapt_aiosqlite_connection) -> None:
    """An invalidated connection (its statement was cancelled) gives its turn back too."""
    try:
        _stock_terminate(self)
    finally:
        _give_turn_back(self)


def _stop_once(self: aiosqlite.core.Connection) -> Optional[asyncio.Future]:
    """aiosqlite's stop, but only the first time. A second stop queues a second
    "stop" for a worker thread that ends at the first, and its future never
    resolves: SQLAlchemy's close of an invalidated connection, cancelled while
    a forced stop was on its way, then waited in aiosqlite's `close()` forever."""
    if not self._running:
        return None  # already stopping: the first stop closes the connection
    return _stock_stop(self)


# The execution option of a statement that ends its transaction (see above).
COMMIT_WITH_STATEMENT = "sqlite_commit_with_statement"


def _commit_with_statement(cursor: Any, statement: Any, parameters: Any, context: Any) -> bool:
    """SQLAlchemy's `do_execute` event: runs a statement marked `COMMIT_WITH_STATEMENT`
    and its commit in one trip. Returns False (SQLAlchemy executes) for any other."""
    if not context.execution_options.get(COMMIT_WITH_STATEMENT):
        return False
    if AsyncAdapt_aiosqlite_cursor.execute is not _execute or cursor.server_side:
        return False
    _execute(cursor, statement, parameters, commit=True)
    return True


def commit_with_statements(sync_engine: Any) -> None:
    """Lets marked statements of this SQLite engine commit in their own trip."""
    event.listen(sync_engine, "do_execute", _commit_with_statement)


def install() -> None:
    """Makes SQLAlchemy's aiosqlite adapter take one trip per statement and wait its
    turn to write (idempotent)."""
    AsyncAdapt_aiosqlite_cursor.execute = _execute  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_cursor.executemany = _executemany  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.commit = _commit  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.rollback = _rollback  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.close = _close  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.terminate = _terminate  # type: ignore[method-assign]
    aiosqlite.core.Connection.stop = _stop_once  # type: ignore[method-assign]


def uninstall() -> None:
    """Back to SQLAlchemy's own cursors (for comparisons in tests and measurements)."""
    AsyncAdapt_aiosqlite_cursor.execute = _stock_execute  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_cursor.executemany = _stock_executemany  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.commit = _stock_commit  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.rollback = _stock_rollback  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.close = _stock_close  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_connection.terminate = _stock_terminate  # type: ignore[method-assign]
    aiosqlite.core.Connection.stop = _stock_stop  # type: ignore[method-assign]
