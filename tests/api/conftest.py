"""Fixtures of the API's unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def trips(monkeypatch) -> list[str]:
    """The names of the calls made in aiosqlite's thread, from the time it is used."""
    import aiosqlite.core

    made: list[str] = []
    stock_trip = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(getattr(fn, "__name__", "?"))
        return await stock_trip(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return made
