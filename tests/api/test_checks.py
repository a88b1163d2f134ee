"""System lookups match the catalogue the flow language knows."""

from __future__ import annotations

from api.db import Database
from api.services import catalog
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


async def test_the_next_part_named_in_the_same_message_replaces_the_last_ones_quote() -> None:
    slots = {
        "ask_part": "remote control",
        "parts_to_follow": ["cable", "keyboard"],
        "part_number": "RMT-STB-UNI",
        "part_name": "Universal remote control for HomeBox set-top boxes",
        "confirm_price": True,
        "confirm_address": True,
        "order_number": "ORD-000001",
        "ticket_number": "TCK-000001",
    }
    assert await run_check("next_part", slots) == "next"
    assert slots["ask_part"] == "cable" and slots["parts_to_follow"] == ["keyboard"]
    # The last part's quote and price answer are gone; the address, order and ticket stay.
    assert "part_number" not in slots and "part_name" not in slots
    assert "confirm_price" not in slots
    assert slots["confirm_address"] is True and slots["ticket_number"] == "TCK-000001"
    assert await run_check("next_part", slots) == "next"
    assert await run_check("next_part", slots) == "none"
    assert await run_check("next_part", {}) == "none"


def test_every_part_has_a_german_name_for_german_customers() -> None:
    for part in catalog.parts().values():
        assert part.name_in("de") != part.name, part.part_number
        assert part.name_in("en") == part.name
    assert catalog.find_part("RMT-STB-UNI").name_in("de") == (
        "Universalfernbedienung für HomeBox-Receiver"
    )
