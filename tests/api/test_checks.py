"""System lookups match the catalogue the flow language knows."""

from __future__ import annotations

from api.db import Database
from api.services.checks import CHECKS, Checks
from bot.flows.model import KNOWN_CHECKS

# Never connected: these checks must answer without the database.
run_check = Checks(Database()).run


def test_every_known_check_is_implemented() -> None:
    assert set(CHECKS) == set(KNOWN_CHECKS)


async def test_an_unknown_check_answers_unknown() -> None:
    assert await run_check("horoscope", {}) == "unknown"


async def test_outage_needs_a_service_area() -> None:
    assert await run_check("service_outage", {}) == "unknown"
    assert (
        await run_check(
            "service_outage", {"service_area": "north", "known_outage_areas": ["north"]}
        )
        == "outage"
    )
