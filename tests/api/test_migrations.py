"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from api.config import Settings
from api.db import run_migrations
from api.models import Base


def test_migrations_match_the_models(database_settings: Settings) -> None:
    run_migrations(database_settings)
    run_migrations(database_settings)  # a second run is a no-op
    engine = create_engine(database_settings.sync_database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
