"""Shared fixtures: a migrated database for unit tests, the real stack for end-to-end tests."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from api.config import PROJECT_ROOT, Settings
from api.db import Database, run_migrations
from api.wiring import Services, start_services
from bot.flows.loader import FlowLibrary

FLOWS_DIR = PROJECT_ROOT / "data" / "flows"
# A test still running after this long prints what every event loop is waiting
# for; pytest-timeout (pyproject.toml) ends the run a little later.
STUCK_SECONDS = 600


def _print_pending_tasks(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{item.nodeid} has run for {STUCK_SECONDS} s; pending asyncio tasks:")
        for loop in [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]:
            if loop.is_closed():
                continue
            for task in asyncio.all_tasks(loop):
                print(f"--- {task!r}")
                task.print_stack(file=sys.stdout)
        sys.stdout.flush()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: object) -> object:
    watchdog = threading.Timer(STUCK_SECONDS, _print_pending_tasks, args=(item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return (yield)
    finally:
        watchdog.cancel()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": f"sqlite:///{tmp_path / 'app.db'}",
        "tracker_url": f"sqlite:///{tmp_path / 'tracker.db'}",
        "rasa_jwt_secret": secrets.token_urlsafe(24),
        "action_token": secrets.token_urlsafe(24),
        "operator_token": secrets.token_urlsafe(24),
        "flows_dir": FLOWS_DIR,
        # The end-to-end tests start many conversations from this machine.
        "limits_exempt_addresses": "127.0.0.1",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


# The local PostgreSQL server (trust auth); each test gets a fresh database in it.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    import uuid

    import psycopg

    name = f"support_test_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_ADMIN_URL
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh, migrated database: SQLite and then PostgreSQL."""
    if request.param == "sqlite":
        return make_settings(tmp_path)
    return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
async def database(database_settings: Settings) -> AsyncIterator[Database]:
    run_migrations(database_settings)
    db = Database()
    db.connect(database_settings)
    try:
        yield db
    finally:
        await db.disconnect()


@pytest.fixture
async def services(database: Database, database_settings: Settings) -> AsyncIterator[Services]:
    """The app's services on the test database, built as api/main.py builds them."""
    built = await start_services(database_settings, database)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def flow_library() -> FlowLibrary:
    library = FlowLibrary(FLOWS_DIR)
    library.reload()
    return library


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    """A private copy of data/flows that a test may edit."""
    target = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, target)
    return target


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real Rasa server and the real API on free ports, with their own databases."""
    from scripts.stack import Stack, free_port
    from scripts.train import ensure_model

    workdir = tmp_path_factory.mktemp("stack")
    # The stack's own copy of the flows, which tests edit as a trainer would.
    flows = workdir / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    # A short tracker window, so that every conversation past four messages runs
    # on a bounded tracker (bot/rasa/tracker_store.py).
    settings = make_settings(
        workdir,
        port=free_port(),
        rasa_timeout_seconds=5.0,
        tracker_max_turns=4,
        flows_dir=flows,
    )
    # RASA_MODEL pins a model file; otherwise the model matching the data is used (or trained).
    model = Path(os.environ["RASA_MODEL"]) if os.environ.get("RASA_MODEL") else ensure_model()
    running = Stack(settings=settings, rasa_port=free_port(), model=model, log_dir=workdir / "log")
    try:
        running.start()
        yield running
    finally:
        running.stop()
