"""Known outages: the operator's endpoints and the flow's `service_outage` check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.db import Database
from api.main import create_app
from api.models import Conversation
from api.services import checks, customers, outages
from api.services.errors import Invalid, NotFound
from api.services.seed import load_seed
from tests.api.test_customers import OPERATOR, STAFF
from tests.conftest import make_settings

NOW = datetime.now(timezone.utc)


@pytest.fixture
def wired(database: Database) -> Database:
    return database


async def test_the_check_answers_unknown_until_the_customer_is_known(wired: Database) -> None:
    async with wired.session() as session:
        await load_seed(session=session)
        session.add(Conversation(id="conv-o", token_hash="ho"))
    token = checks.current_conversation.set("conv-o")
    try:
        assert await checks.Checks(wired).run("service_outage", {}) == "unknown"
        async with wired.session() as session:
            await customers.link_conversation(
                session=session, conversation_id="conv-o", customer_id=1
            )
        assert await checks.Checks(wired).run("service_outage", {}) == "none"
        async with wired.session() as session:
            await outages.create_outage(
                session=session,
                service_area="berlin-mitte",
                description="a damaged fibre cable",
                starts_at=NOW - timedelta(hours=1),
                expected_end=NOW + timedelta(hours=3),
                actor="ops",
            )
        slots: dict = {}
        assert await checks.Checks(wired).run("service_outage", slots) == "outage"
        assert slots["outage_description"] == "a damaged fibre cable"
        assert slots["outage_expected_end"]  # e.g. "Fri 27 Nov, 15:00"
        # Other areas are not affected.
        assert (
            await checks.Checks(wired).run("service_outage", {"service_area": "munich-west"})
            == "none"
        )
    finally:
        checks.current_conversation.reset(token)


async def test_ended_and_future_outages_do_not_count(wired: Database) -> None:
    async with wired.session() as session:
        await load_seed(session=session)
        later = await outages.create_outage(
            session=session, service_area="hamburg-nord", description="planned work",
            starts_at=NOW + timedelta(days=1), actor="ops",
        )  # fmt: skip
        assert await outages.current_outage(session=session, service_area="hamburg-nord") is None
        current = await outages.create_outage(
            session=session, service_area="hamburg-nord", description="power cut", actor="ops"
        )
        assert (await outages.current_outage(session=session, service_area="hamburg-nord")).id == (
            current.id
        )
        await outages.update_outage(session=session, outage=current, ended=True)
        assert await outages.current_outage(session=session, service_area="hamburg-nord") is None
        assert later.ended_at is None
        with pytest.raises(NotFound):
            await outages.create_outage(
                session=session, service_area="atlantis", description="x", actor="ops"
            )
        with pytest.raises(Invalid):
            await outages.create_outage(
                session=session, service_area="hamburg-nord", description="x",
                starts_at=NOW, expected_end=NOW - timedelta(hours=1), actor="ops",
            )  # fmt: skip


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token=OPERATOR)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_outage_endpoints(client: TestClient) -> None:
    body = {
        "service_area": "berlin-mitte",
        "description": "Street works damaged a cable",
        "service": "internet",
        "expected_end": (NOW + timedelta(hours=4)).isoformat(),
    }
    assert client.post("/outages", json=body).status_code == 401
    key = {**STAFF, "Idempotency-Key": "out-1"}
    created = client.post("/outages", json=body, headers=key)
    assert created.status_code == 201 and created.json()["created_by"] == "operator"
    assert client.post("/outages", json=body, headers=key).json()["id"] == created.json()["id"]
    listed = client.get("/outages?active=true&service_area=berlin-mitte", headers=STAFF).json()
    assert listed["total"] == 1
    url = f"/outages/{created.json()['id']}"
    ended = client.patch(url, json={"ended": True}, headers=STAFF)
    assert ended.json()["ended_at"] is not None
    assert client.patch(url, json={"ended": True}, headers=STAFF).status_code == 409
    assert client.get("/outages?active=true", headers=STAFF).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"service_area": "atlantis", "description": "x y z"}, 404),
        ({"service_area": "berlin-mitte", "description": "x y z", "service": "gas"}, 422),
        (
            {
                "service_area": "berlin-mitte",
                "description": "x y z",
                "starts_at": NOW.isoformat(),
                "expected_end": (NOW - timedelta(hours=2)).isoformat(),
            },
            422,
        ),
    ],
)
def test_bad_outages(client: TestClient, body: dict, status: int) -> None:
    response = client.post("/outages", json=body, headers=STAFF)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("text", "about_an_outage"),
    [
        ("when will the outage be fixed?", True),
        ("Guten Tag, können Sie mir sagen wann die Störung in 10115 behoben ist?", True),
        ("Gibt es gerade einen Netzausfall bei uns?", True),
        ("any update on my ticket?", False),
        ("Wann kommt der Techniker?", False),
    ],
)
def test_a_status_question_about_an_outage(text: str, about_an_outage: bool) -> None:
    assert outages.asks_about_outage(text) is about_an_outage
