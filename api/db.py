"""Database engine, sessions and migrations.

Nothing is created at import time: `Database.connect()` runs at start-up
(see api/main.py) so that tests and tools can point it anywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api import sqlite_statements
from api.config import PROJECT_ROOT, Settings

MIGRATIONS_DIR = PROJECT_ROOT / "api" / "migrations"


def run_migrations(settings: Settings) -> None:
    """Bring the schema up to date (blocking; call before serving)."""
    url = settings.sync_database_url
    if url.startswith("sqlite:///"):
        (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "heads")


SQLITE_BUSY_SECONDS = 10

# Execution options for the last statement of a unit of work (a connection from
# `Database.connection()`): on SQLite it commits in the same trip to aiosqlite's
# thread (api/sqlite_statements.py), and the unit's own commit then has nothing
# left to do. On PostgreSQL they change nothing. Nothing may be written after it
# in the same unit: that would be committed on its own.
LAST_IN_TRANSACTION = {sqlite_statements.COMMIT_WITH_STATEMENT: True}


def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers work while one writer writes; the busy timeout makes a
    # writer of another process wait instead of failing with "database is
    # locked" (writers of this one wait their turn on the event loop first).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The app's connection pool and session factory."""

    def __init__(self) -> None:
        self._engine: Optional[AsyncEngine] = None
        self._sessions: Optional[async_sessionmaker[AsyncSession]] = None
        self.sqlite_writer: Optional[sqlite_statements.WriterTurn] = None

    def connect(self, settings: Settings) -> None:
        url = settings.async_database_url
        if url.startswith("sqlite"):
            sqlite_statements.install()
            # A pool as large as PostgreSQL's: with the default 5, busy moments
            # opened and closed overflow connections (a thread and four PRAGMAs each).
            engine = create_async_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_SECONDS},
                pool_size=settings.db_pool_size,
                max_overflow=10,
            )
            writer = sqlite_statements.WriterTurn(timeout_seconds=SQLITE_BUSY_SECONDS)
            self.sqlite_writer = writer

            def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
                _tune_sqlite(dbapi_connection, connection_record)
                sqlite_statements.share_writer_turn(dbapi_connection, writer)

            event.listen(engine.sync_engine, "connect", on_connect)
            sqlite_statements.commit_with_statements(engine.sync_engine)
        else:
            engine = create_async_engine(
                url, pool_size=settings.db_pool_size, max_overflow=10, pool_pre_ping=True
            )
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def disconnect(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None
        self.sqlite_writer = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("The database is not connected yet.")
        return self._engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits on success and rolls back on error."""
        if self._sessions is None:
            raise RuntimeError("The database is not connected yet.")
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that commits on success and rolls back on error.

        For the few hot statements of every chat message (api/services/conversations.py):
        SQLAlchemy Core on a connection costs about half of what an ORM session does.
        """
        async with self.engine.begin() as connection:
            yield connection

    async def is_reachable(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False


database = Database()
