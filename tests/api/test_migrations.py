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
            context = MigrationContext.configure(
                connection, opts={"include_name": not_full_text_search}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def not_full_text_search(name, type_, parent_names) -> bool:
    """The full-text search tables and indexes (migration 0005) have no model."""
    return not (name or "").startswith(("messages_fts", "tickets_fts")) and name not in (
        "ix_messages_text_search",
        "ix_tickets_text_search",
    )
