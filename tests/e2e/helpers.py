"""Shared by the end-to-end tests: reading the stack's database, picking buttons."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import httpx
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


def new_customer(
    stack: Any,
    account: str,
    *,
    postcode: str,
    area: Optional[str] = None,
    name: str = "Sam Weber",
    services: tuple[str, ...] = ("internet", "cable_tv"),
) -> None:
    """A customer of the operator's import, in a service area of their own when `area`
    is given (so what a test sets up there touches no other test), else in Berlin Mitte."""
    if area is not None:
        execute(
            stack,
            "INSERT INTO service_areas (code, name, timezone) VALUES (:a, :a, 'Europe/Berlin')",
            a=area,
        )
    record = {
        "account_number": account,
        "email": f"{account.lower()}@example.com",
        "name": name,
        "postcode": postcode,
        "address": f"Teststraße 1, {postcode} Köln",
        "service_area": area or "berlin-mitte",
        "services": list(services),
    }
    answer = httpx.post(
        f"{stack.base_url}/customers/import",
        json={"customers": [record]},
        headers={"Authorization": f"Bearer {stack.settings.operator_token}"},
    )
    assert answer.status_code == 200, answer.text


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


def outage_in(
    stack: Any,
    area: str,
    *,
    started_hours_ago: float,
    ends_in_hours: Optional[float] = 2,
    description: str = "a damaged fibre cable",
) -> None:
    """A known outage of every service in `area`, as operations would enter it."""
    now = datetime.now(timezone.utc)
    execute(
        stack,
        "INSERT INTO outages (service_area, service, description, starts_at, expected_end, "
        "created_by, created_at) VALUES (:a, 'all', :d, :starts, :ends, 'ops', :now)",
        a=area,
        d=description,
        starts=now - timedelta(hours=started_hours_ago),
        ends=now + timedelta(hours=ends_in_hours) if ends_in_hours is not None else None,
        now=now,
    )
