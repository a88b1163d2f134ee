"""Technician visits: free slots, booking, the race for the last slot, changes, endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import Database
from api.main import create_app
from api.models import Customer, Ticket, VisitBooking
from api.services import tickets, visits
from api.services.errors import Invalid
from api.services.seed import load_seed
from api.services.visits import SlotTaken
from tests.api.test_customers import OPERATOR, STAFF
from tests.conftest import make_settings

BERLIN = "berlin-mitte"


async def _seeded(database: Database) -> None:
    async with database.session() as session:
        await load_seed(session=session)


async def _customer(session, account: str) -> Customer:
    found = await session.execute(select(Customer).where(Customer.account_number == account))
    return found.scalar_one()


async def test_free_slots_are_in_working_hours_and_in_order(database: Database) -> None:
    await _seeded(database)
    async with database.session() as session:
        found = await visits.free_slots(session=session, service_area=BERLIN, limit=10)
    assert len(found) == 10
    assert [s.starts_at for s in found] == sorted(s.starts_at for s in found)
    assert all(s.ends_at - s.starts_at == timedelta(minutes=120) for s in found)
    assert all(visits.parse_slot_ref(s.ref) == (s.technician_id, s.starts_at) for s in found)


async def test_booking_links_the_ticket_and_takes_the_slot(database: Database) -> None:
    await _seeded(database)
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        ticket = await tickets.open_ticket(
            session=session, conversation_id=None, domain="internet", title="No internet",
            customer_id=maria.id,
        )  # fmt: skip
        slot = (await visits.free_slots(session=session, service_area=BERLIN))[0]
        booking = await visits.book_visit(
            session=session,
            customer=maria,
            technician_id=slot.technician_id,
            starts_at=slot.starts_at,
            ticket=ticket,
        )
        assert ticket.status == "visit_scheduled"
        assert booking.ticket_id == ticket.id
        assert slot not in await visits.free_slots(session=session, service_area=BERLIN)


async def _book(database: Database, account: str, technician_id: int, starts_at):
    async with database.session() as session:
        customer = await _customer(session, account)
        booking = await visits.book_visit(
            session=session, customer=customer, technician_id=technician_id, starts_at=starts_at
        )
        return booking.id


@pytest.mark.parametrize("contenders", [2, 5])
async def test_exactly_one_customer_gets_a_contested_slot(
    database: Database, contenders: int
) -> None:
    """Concurrent bookings of one slot, each in its own session and connection."""
    await _seeded(database)
    async with database.session() as session:
        slot = (await visits.free_slots(session=session, service_area=BERLIN))[0]
    accounts = ["ACC-1001", "ACC-1004"] * contenders
    results = await asyncio.gather(
        *(_book(database, a, slot.technician_id, slot.starts_at) for a in accounts[:contenders]),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, SlotTaken)]
    assert len(winners) == 1, results
    assert len(losers) == contenders - 1, results
    for lost in losers:
        assert lost.status_code == 409
        assert lost.next_slots and slot.ref not in [s.ref for s in lost.next_slots]
    async with database.session() as session:
        held = await session.execute(
            select(VisitBooking).where(VisitBooking.slot_start == slot.starts_at)
        )
        assert len(held.scalars().all()) == 1


async def test_cancel_frees_the_slot_and_reschedule_moves_it(database: Database) -> None:
    await _seeded(database)
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        ticket = await tickets.open_ticket(
            session=session, conversation_id=None, domain="internet", title="x",
            customer_id=maria.id,
        )  # fmt: skip
        first, second = (await visits.free_slots(session=session, service_area=BERLIN))[:2]
        booking = await visits.book_visit(
            session=session, customer=maria, technician_id=first.technician_id,
            starts_at=first.starts_at, ticket=ticket,
        )  # fmt: skip
        moved = await visits.reschedule_visit(
            session=session, booking=booking, technician_id=second.technician_id,
            starts_at=second.starts_at, actor="maria",
        )  # fmt: skip
        assert moved.ticket_id == ticket.id and ticket.status == "visit_scheduled"
        free = [s.ref for s in await visits.free_slots(session=session, service_area=BERLIN)]
        assert first.ref in free and second.ref not in free
        await visits.cancel_visit(session=session, booking=moved, actor="maria")
        assert ticket.status == "open"
        with pytest.raises(Exception, match="invalid transition"):
            await visits.cancel_visit(session=session, booking=moved, actor="maria")
        # The freed slot can be booked again.
        again = await visits.book_visit(
            session=session, customer=maria, technician_id=second.technician_id,
            starts_at=second.starts_at,
        )  # fmt: skip
        assert again.id != moved.id


async def test_times_off_the_schedule_are_refused(database: Database) -> None:
    await _seeded(database)
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        tom = await _customer(session, "ACC-1002")
        slot = (await visits.free_slots(session=session, service_area=BERLIN))[0]
        with pytest.raises(Invalid, match="does not work at"):
            await visits.book_visit(
                session=session, customer=maria, technician_id=slot.technician_id,
                starts_at=slot.starts_at + timedelta(minutes=7),
            )  # fmt: skip
        with pytest.raises(Invalid, match="too soon or in the past"):
            await visits.book_visit(
                session=session, customer=maria, technician_id=slot.technician_id,
                starts_at=slot.starts_at - timedelta(days=30),
            )  # fmt: skip
        with pytest.raises(Invalid, match="service area"):
            await visits.book_visit(
                session=session, customer=tom, technician_id=slot.technician_id,
                starts_at=slot.starts_at,
            )  # fmt: skip
    with pytest.raises(Invalid):
        visits.parse_slot_ref("tomorrow at ten")


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token=OPERATOR)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_visit_endpoints(client: TestClient) -> None:
    slots = client.get(f"/visits/slots?service_area={BERLIN}&limit=3", headers=STAFF).json()
    assert len(slots) == 3
    ticket = client.post(
        "/tickets", json={"domain": "internet", "title": "Line fault", "customer_id": 1},
        headers=STAFF,
    ).json()  # fmt: skip
    body = {
        "customer_id": 1,
        "technician_id": slots[0]["technician_id"],
        "starts_at": slots[0]["starts_at"],
        "ticket_number": ticket["number"],
    }
    booked = client.post("/visits", json=body, headers={**STAFF, "Idempotency-Key": "v-1"})
    assert booked.status_code == 201, booked.text
    retry = client.post("/visits", json=body, headers={**STAFF, "Idempotency-Key": "v-1"})
    assert retry.status_code == 201 and retry.json()["id"] == booked.json()["id"]
    assert client.get(f"/tickets/{ticket['number']}", headers=STAFF).json()["status"] == (
        "visit_scheduled"
    )
    taken = client.post("/visits", json={**body, "customer_id": 4}, headers=STAFF)
    assert taken.status_code == 409
    assert taken.json()["next_slots"] and slots[0]["ref"] not in taken.json()["next_slots"]

    visit = booked.json()["id"]
    moved = client.post(
        f"/visits/{visit}/reschedule",
        json={"technician_id": slots[1]["technician_id"], "starts_at": slots[1]["starts_at"]},
        headers=STAFF,
    )
    assert moved.status_code == 200 and moved.json()["id"] != visit
    cancelled = client.post(f"/visits/{moved.json()['id']}/cancel", headers=STAFF)
    assert cancelled.json()["status"] == "cancelled"
    assert client.post(f"/visits/{moved.json()['id']}/cancel", headers=STAFF).status_code == 409
    assert client.get("/visits?customer_id=1", headers=STAFF).json()["total"] == 2
    assert len(client.get(f"/technicians?service_area={BERLIN}", headers=STAFF).json()) == 2


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/visits/slots?service_area=atlantis", None, 404),
        ("get", "/visits/999", None, 404),
        ("post", "/visits/999/cancel", None, 404),
        (
            "post",
            "/visits",
            {"customer_id": 999, "technician_id": 1, "starts_at": "2030-01-07T08:00:00Z"},
            404,
        ),  # fmt: skip
        (
            "post",
            "/visits",
            {"customer_id": 1, "technician_id": 999, "starts_at": "2030-01-07T08:00:00Z"},
            404,
        ),  # fmt: skip
        ("post", "/visits", {"customer_id": 1, "technician_id": 1, "starts_at": "soon"}, 422),
    ],
)
def test_bad_visit_requests(client: TestClient, method, url, body, status) -> None:
    response = client.request(method, url, json=body, headers=STAFF)
    assert response.status_code == status, response.text


def test_visits_are_staff_only(client: TestClient) -> None:
    assert client.get(f"/visits/slots?service_area={BERLIN}").status_code == 401


async def test_a_ticket_event_records_the_booking(database: Database) -> None:
    await _seeded(database)
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        ticket = await tickets.open_ticket(
            session=session, conversation_id=None, domain="internet", title="x",
            customer_id=maria.id,
        )  # fmt: skip
        slot = (await visits.free_slots(session=session, service_area=BERLIN))[0]
        await visits.book_visit(
            session=session, customer=maria, technician_id=slot.technician_id,
            starts_at=slot.starts_at, ticket=ticket, actor="anna",
        )  # fmt: skip
        events = await tickets.ticket_events(session=session, ticket_id=ticket.id)
        assert (await session.get(Ticket, ticket.id)).status == "visit_scheduled"
    assert any(e.kind == "visit" and e.actor == "anna" for e in events)


@pytest.mark.parametrize(
    ("text", "about_a_visit"),
    [
        ("Where's my technician? He was due between 8 and 12", True),
        ("Wann kommt der Techniker?", True),
        ("Wo bleibt der Servicetechniker, der Termin war um 10", True),
        ("any update on my ticket?", False),
        ("Gibt es was Neues zu meinem Ticket?", False),
    ],
)
def test_a_status_question_about_a_visit(text: str, about_a_visit: bool) -> None:
    assert visits.asks_about_visit(text) is about_a_visit


@pytest.mark.parametrize(
    ("text", "missed"),
    [
        ("The technician never showed up and nobody called", True),
        ("so the tech was supposed to come today between 12 and 4, it's 5:30 now", True),
        ("Der Techniker ist nicht gekommen und keiner hat Bescheid gesagt!", True),
        ("Techniker kam nicht, ich habe umsonst gewartet", True),
        ("I need a technician to come and look at the socket", False),
        ("can the technician come on saturday instead?", False),
        ("the tech came but didn't fix anything", False),
        ("my internet didn't come back after the storm", False),  # no visit named
    ],
)
def test_a_visit_that_did_not_happen(text: str, missed: bool) -> None:
    assert visits.says_visit_missed(text) is missed


@pytest.mark.parametrize(
    ("text", "day", "part"),
    [
        ("Kann ich meinen Termin am Dienstag auf Donnerstag verschieben?", 3, None),
        ("move my tuesday visit to thursday", 3, None),
        ("Thursday instead of Tuesday please", 3, None),
        ("can someone come saturday morning", 5, "morning"),
        ("vom Dienstag auf Freitag nachmittag", 4, "afternoon"),
    ],
)
def test_when_the_customer_wants_the_visit(text: str, day: int, part: str | None) -> None:
    wish = visits.TimeWish.read(text)
    assert wish is not None and (wish.day, wish.part) == (day, part)
    assert visits.TimeWish.read("I need a technician, the socket is loose") is None


# How a customer names a weekday, by its short name in a slot button's title.
WEEKDAY_WORDS = {
    "en": dict(zip("mon tue wed thu fri sat sun".split(), "monday tuesday wednesday thursday "
                   "friday saturday sunday".split(), strict=True)),
    "de": dict(zip("mo di mi do fr sa so".split(), "montag dienstag mittwoch donnerstag "
                   "freitag samstag sonntag".split(), strict=True)),
}  # fmt: skip


@pytest.mark.parametrize("language", ["en", "de"])
async def test_the_times_offered_fit_the_day_asked_for(database: Database, language: str) -> None:
    await _seeded(database)
    async with database.session() as session:
        plain, first = await visits.slot_offer(
            session=session, service_area=BERLIN, language=language
        )
        # The day of the last time offered without a wish, asked for by name.
        day = first[-1]["title"].split()[0].strip(",")
        wish = f"{'on' if language == 'en' else 'am'} {WEEKDAY_WORDS[language][day.lower()]}"
        text, offered = await visits.slot_offer(
            session=session, service_area=BERLIN, language=language, wish=wish
        )
    assert offered and all(b["title"].split()[0].strip(",") == day for b in offered), offered
    assert text != plain


@pytest.mark.parametrize(
    ("language", "wish"),
    [
        ("en", "can I move that appointment to another day?"),
        ("de", "Kann ich den Termin auf einen anderen Tag legen?"),
    ],
)
async def test_another_day_leaves_out_the_day_of_the_visit_being_moved(
    database: Database, language: str, wish: str
) -> None:
    await _seeded(database)
    async with database.session() as session:
        _, first = await visits.slot_offer(session=session, service_area=BERLIN, language=language)
        booked = (await visits.free_slots(session=session, service_area=BERLIN, limit=1))[0]
        text, offered = await visits.slot_offer(
            session=session,
            service_area=BERLIN,
            reschedule=True,
            language=language,
            wish=wish,
            not_on=[booked.starts_at],
        )
    day = ",".join(first[0]["title"].split(",")[:-1])  # "Tue 08 Dec", „Di, 08. Dez“
    assert offered and all(not b["title"].startswith(day) for b in offered), offered
    # Typed while times are on offer, it picks none of them.
    assert visits.pick_offered_slot(wish, offered, language=language) is None


def test_a_day_is_written_the_way_each_language_writes_it() -> None:
    assert visits.describe_date(date(2023, 5, 10)) == "10 May 2023"
    assert visits.describe_date(date(2023, 5, 10), "de") == "10. Mai 2023"
