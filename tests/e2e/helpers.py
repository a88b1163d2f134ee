"""Shared by the end-to-end tests: reading the stack's database, picking buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text


def query(stack: Any, sql: str, **params: Any) -> list[Any]:
    """Rows from the stack's app database (SQLite or PostgreSQL)."""
    engine = create_engine(stack.settings.sync_database_url)
    try:
        with engine.begin() as connection:
            return connection.execute(text(sql), params).fetchall()
    finally:
        engine.dispose()


def execute(stack: Any, sql: str, **params: Any) -> None:
    """A write to the stack's app database, e.g. to set up a known outage."""
    engine = create_engine(stack.settings.sync_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


async def press(client: Any, turn: Any, title_part: str) -> Any:
    """Tap the quick-reply button whose title contains `title_part`; the next turn."""
    chosen = button(turn, title_part)
    return await client.say(chosen["title"], payload=chosen["payload"])


def button(turn: Any, title_part: str) -> dict[str, str]:
    """The quick-reply button whose title contains `title_part`."""
    for candidate in turn.buttons:
        if title_part.lower() in candidate["title"].lower():
            return candidate
    raise AssertionError(f"no button like {title_part!r} in {turn.buttons} ({turn.text!r})")
