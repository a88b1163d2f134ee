"""Tickets: numbers, validation, lookups."""

from __future__ import annotations

import pytest

from api.db import Database
from api.models import format_ticket_number, parse_ticket_number
from api.services import tickets


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TCK-000042", 42),
        ("tck-42", 42),
        ("42", 42),
        (" TCK-7 ", 7),
        ("TCK-", None),
        ("TCK-12a", None),
        ("DROP TABLE", None),
        ("9" * 40, None),
    ],
)
def test_ticket_numbers_parse(raw: str, expected: int | None) -> None:
    assert parse_ticket_number(raw) == expected


def test_ticket_numbers_format() -> None:
    assert format_ticket_number(42) == "TCK-000042"


async def test_open_and_find_a_ticket(database: Database) -> None:
    async with database.session() as session:
        ticket = await tickets.open_ticket(
            session=session,
            conversation_id=None,
            domain="internet",
            title="No internet",
            summary="- Router lights → orange",
        )
        number = ticket.number
    assert number.startswith("TCK-")
    async with database.session() as session:
        found = await tickets.get_ticket(session=session, number=number)
        assert found is not None and found.status == "open" and found.tier == 1
        assert await tickets.get_ticket(session=session, number="TCK-999999") is None
        page, total = await tickets.list_tickets(session=session)
        assert total == 1 and page[0].id == found.id


@pytest.mark.parametrize("kwargs", [{"domain": "plumbing"}, {"priority": "whenever"}, {"tier": 7}])
async def test_invalid_tickets_are_refused(database: Database, kwargs: dict) -> None:
    values = {"domain": "internet", "title": "x", **kwargs}
    async with database.session() as session:
        with pytest.raises(ValueError):
            await tickets.open_ticket(session=session, conversation_id=None, **values)


@pytest.mark.parametrize(
    "text",
    [
        "Please close my ticket, the internet is working again.",
        "you can close the case, all good",
        "It works now actually, you can close the ticket",
        "mark it as solved please",
        "Bitte schließen Sie mein Ticket, das Problem ist gelöst.",
        "Das Ticket kann geschlossen werden",
        "Sie können das Ticket schließen, läuft wieder",
        "TCK-000004 schließen",
        "please close TCK-000123",
    ],
)
def test_a_request_to_close_a_ticket_is_recognised(text: str) -> None:
    assert tickets.asks_to_close(text)


@pytest.mark.parametrize(
    "text",
    [
        "my ticket was closed without anything being fixed",
        "Warum wurde mein Ticket geschlossen?",
        "close the window and restart the app",
        "I closed the app and it still crashes",
        "Please open a ticket for my printer",
    ],
)
def test_a_story_about_a_closed_ticket_is_no_request_to_close_one(text: str) -> None:
    assert not tickets.asks_to_close(text)


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("any news on my ticket?", True),
        ("has my part shipped yet", True),
        ("when is the technician coming", True),
        ("what's happening with my repair", True),
        ("is there an update", True),
        ("status of TCK-000012 please", True),
        ("Wo bleibt mein Ersatzteil?", True),
        ("Wie ist der Stand?", True),
        # Answers to a flow's question that the language model took for a status question.
        ("yes updated it yesterday", False),
        ("ja, gestern schon gemacht", False),
    ],
)
def test_a_question_about_progress_names_what_it_is_about(text: str, asks: bool) -> None:
    assert tickets.asks_about_progress(text) is asks


def test_a_ticket_number_is_found_in_the_message() -> None:
    assert tickets.number_in("please close TCK-000030, it's fixed") == "TCK-000030"
    assert tickets.number_in("tck-42 schließen") == "TCK-000042"
    assert tickets.number_in("close my ticket please") is None
