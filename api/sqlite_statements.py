"""Each SQLite statement of the API in one trip to aiosqlite's thread, not four.

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
"""

from __future__ import annotations

from collections import deque
from typing import Any, Optional

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_cursor

_stock_execute = AsyncAdapt_aiosqlite_cursor.execute
_stock_executemany = AsyncAdapt_aiosqlite_cursor.executemany


def _run_statement(connection: Any, operation: Any, parameters: Optional[Any]) -> tuple:
    """Runs in aiosqlite's thread: execute, fetch, close, like the adapter's four trips."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _run_many(connection: Any, operation: Any, seq_of_parameters: Any) -> tuple:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _execute(
    self: AsyncAdapt_aiosqlite_cursor, operation: Any, parameters: Optional[Any] = None
) -> Any:
    if self.server_side:
        return _stock_execute(self, operation, parameters)
    try:
        description, rows, lastrowid, rowcount = self.await_(
            self._connection._execute(_run_statement, self._connection, operation, parameters)
        )
    except Exception as error:
        self._adapt_connection._handle_exception(error)
    self.description = description
    self.lastrowid, self.rowcount = lastrowid, rowcount
    if description:
        self._rows = deque(rows)


def _executemany(self: AsyncAdapt_aiosqlite_cursor, operation: Any, seq_of_parameters: Any) -> Any:
    try:
        lastrowid, rowcount = self.await_(
            self._connection._execute(_run_many, self._connection, operation, seq_of_parameters)
        )
    except Exception as error:
        self._adapt_connection._handle_exception(error)
    self.description = None
    self.lastrowid, self.rowcount = lastrowid, rowcount


def install() -> None:
    """Makes SQLAlchemy's aiosqlite cursors run each statement in one trip (idempotent)."""
    AsyncAdapt_aiosqlite_cursor.execute = _execute  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_cursor.executemany = _executemany  # type: ignore[method-assign]


def uninstall() -> None:
    """Back to SQLAlchemy's own cursors (for comparisons in tests and measurements)."""
    AsyncAdapt_aiosqlite_cursor.execute = _stock_execute  # type: ignore[method-assign]
    AsyncAdapt_aiosqlite_cursor.executemany = _stock_executemany  # type: ignore[method-assign]
