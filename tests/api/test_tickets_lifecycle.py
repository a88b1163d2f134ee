"""Ticket lifecycle, audit history, repeat contacts, and the ticket endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.db import Database
from api.main import create_app
from api.models import Conversation, Ticket
from api.services import tickets
from api.services.errors import Conflict
from api.services.seed import load_seed
from tests.api.test_customers import OPERATOR, STAFF
from tests.conftest import make_settings


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token=OPERATOR)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


async def _open(session, **kwargs):
    values = {"conversation_id": None, "domain": "internet", "title": "No internet"}
    values.update(kwargs)
    return await tickets.open_ticket(session=session, **values)


async def test_valid_transitions_are_recorded(database: Database) -> None:
    async with database.session() as session:
        ticket = await _open(session, status="new")
        for status in ("pending_part", "visit_scheduled", "resolved", "closed"):
            await tickets.change_status(session=session, ticket=ticket, to=status, actor="anna")
        events = await tickets.ticket_events(session=session, ticket_id=ticket.id)
    moves = [(e.from_status, e.to_status) for e in events if e.kind == "status"]
    assert moves == [
        ("new", "open"),
        ("open", "pending_part"),
        ("pending_part", "visit_scheduled"),
        ("visit_scheduled", "resolved"),
        ("resolved", "closed"),
    ]
    assert events[0].kind == "created" and {e.actor for e in events[1:]} == {"anna"}


@pytest.mark.parametrize(
    ("path", "target"),
    [(["resolved", "closed"], "open"), (["resolved"], "pending_part"), ([], "new")],
)
async def test_invalid_transitions_are_refused(database: Database, path, target) -> None:
    async with database.session() as session:
        ticket = await _open(session)
        for status in path:
            await tickets.change_status(session=session, ticket=ticket, to=status, actor="a")
        with pytest.raises(Conflict, match=f"invalid transition from {ticket.status} to {target}"):
            await tickets.change_status(session=session, ticket=ticket, to=target, actor="a")


async def test_repeat_contact_updates_the_open_ticket(database: Database) -> None:
    async with database.session() as session:
        await load_seed(session=session)
        session.add_all([Conversation(id=f"c{i}", token_hash=f"h{i}") for i in range(3)])
        await session.flush()
        first, created = await tickets.open_or_update(
            session=session, conversation_id="c0", customer_id=1, domain="internet", title="A"
        )
        # Another chat, same customer and domain, ticket still open: the same ticket.
        again, created_again = await tickets.open_or_update(
            session=session, conversation_id="c1", customer_id=1, domain="internet", title="B"
        )
        # A second, different problem in the same chat gets its own ticket.
        other, other_created = await tickets.open_or_update(
            session=session, conversation_id="c1", customer_id=1, domain="cable", title="C"
        )
        await tickets.change_status(session=session, ticket=first, to="resolved", actor="a")
        # Once resolved, a new contact opens a new ticket.
        fresh, fresh_created = await tickets.open_or_update(
            session=session, conversation_id="c2", customer_id=1, domain="internet", title="D"
        )
        events = await tickets.ticket_events(session=session, ticket_id=first.id)
    assert created and not created_again and again.id == first.id
    assert other_created and other.id != first.id
    assert fresh_created and fresh.id not in (first.id, other.id)
    assert [e.kind for e in events].count("repeat_contact") == 1


def test_customers_see_only_their_own_tickets() -> None:
    ticket = Ticket(id=1, customer_id=7, conversation_id="chat-a", domain="internet", title="x")
    assert tickets.visible_to(ticket, conversation_id="chat-a", customer_id=None)
    assert tickets.visible_to(ticket, conversation_id="chat-b", customer_id=7)
    assert not tickets.visible_to(ticket, conversation_id="chat-b", customer_id=8)
    assert not tickets.visible_to(ticket, conversation_id="chat-b", customer_id=None)


def test_ticket_rest_lifecycle(client: TestClient) -> None:
    body = {"domain": "cable", "title": "No picture", "summary": "- Checked HDMI → yes"}
    created = client.post("/tickets", json=body, headers={**STAFF, "Idempotency-Key": "k-1"})
    assert created.status_code == 201
    ticket = created.json()
    assert ticket["status"] == "new" and ticket["number"].startswith("TCK-")
    retry = client.post("/tickets", json=body, headers={**STAFF, "Idempotency-Key": "k-1"})
    assert retry.json()["number"] == ticket["number"]
    assert client.get("/tickets", headers=STAFF).json()["total"] == 1

    url = f"/tickets/{ticket['number']}"
    moved = client.patch(url, json={"status": "open", "priority": "high"}, headers=STAFF)
    assert moved.status_code == 200 and moved.json()["priority"] == "high"
    assert client.patch(url, json={"status": "resolved"}, headers=STAFF).status_code == 200
    refused = client.patch(url, json={"status": "pending_part"}, headers=STAFF)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "invalid transition from resolved to pending_part"
    note = client.post(f"{url}/notes", json={"text": "Called the customer"}, headers=STAFF)
    assert note.status_code == 201
    kinds = [e["kind"] for e in client.get(f"{url}/events", headers=STAFF).json()]
    assert kinds == ["created", "update", "status", "status", "note"]


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/tickets/TCK-999999", None, 404),
        ("get", "/tickets/garbage", None, 404),
        ("patch", "/tickets/TCK-999999", {"status": "open"}, 404),
        ("post", "/tickets", {"domain": "plumbing", "title": "x"}, 422),
        ("post", "/tickets", {"domain": "internet", "title": "x", "customer_id": 999}, 404),
        ("get", "/conversations/nope/transcript", None, 404),
    ],
)
def test_bad_ticket_requests(client: TestClient, method, url, body, status) -> None:
    response = client.request(method, url, json=body, headers=STAFF)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_tickets_are_staff_only(client: TestClient) -> None:
    assert client.get("/tickets").status_code == 401
    assert client.post("/tickets", json={"domain": "internet", "title": "x"}).status_code == 401
