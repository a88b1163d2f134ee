"""Customers: demo data, identification, import, and the REST endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.config import Settings
from api.db import Database
from api.main import create_app
from api.models import Conversation, Customer, Device
from api.services import checks, customers
from api.services.seed import load_seed
from tests.conftest import make_settings

OPERATOR = "operator-secret-for-tests"


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0, operator_token=OPERATOR
    )


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


STAFF = {"Authorization": f"Bearer {OPERATOR}"}


async def test_demo_data_loads_once(database: Database) -> None:
    async with database.session() as session:
        first = await load_seed(session=session)
    async with database.session() as session:
        second = await load_seed(session=session)
        count = (await session.execute(select(func.count()).select_from(Customer))).scalar_one()
    assert first["customers"] == 4 and first["technicians"] == 4
    assert second == {"service_areas": 0, "technicians": 0, "customers": 0}
    assert count == 4


@pytest.mark.parametrize(
    ("reference", "postcode", "found"),
    [
        ("ACC-1001", "10115", True),
        ("acc-1001", " 10115 ", True),
        ("Maria.Schneider@example.com", "10115", True),
        ("ACC-1001", "20249", False),  # someone else's postcode
        ("ACC-1001", "", False),
        ("ACC-9999", "10115", False),
        ("", "10115", False),
    ],
)
async def test_identification_needs_both_details(
    database: Database, reference: str, postcode: str, found: bool
) -> None:
    async with database.session() as session:
        await load_seed(session=session)
        customer = await customers.verify_customer(
            session=session, reference=reference, postcode=postcode
        )
    assert (customer is not None) is found


async def test_the_verify_check_fills_slots_and_links_the_conversation(
    database: Database,
) -> None:
    async with database.session() as session:
        await load_seed(session=session)
        session.add(Conversation(id="conv-1", token_hash="h1"))
    token = checks.current_conversation.set("conv-1")
    try:
        slots = {"customer_ref": "ACC-1002", "postcode": "99999"}
        assert await checks.Checks(database).run("verify_customer", slots) == "not_found"
        assert slots["identify_failed"] is False and "postcode" not in slots
        slots.update(customer_ref="tom.becker@example.com", postcode="20249")
        assert await checks.Checks(database).run("verify_customer", slots) == "verified"
        assert slots["customer_name"] == "Tom" and slots["service_area"] == "hamburg-nord"
        assert {d["model"] for d in slots["devices"]} == {"ProBook 450 G9", "Speedport Smart 4"}
        assert await checks.Checks(database).run("conversation_customer", {}) == "known"
    finally:
        checks.current_conversation.reset(token)
    async with database.session() as session:
        conversation = await session.get(Conversation, "conv-1")
        assert conversation is not None and conversation.customer_id == slots["customer_id"]


async def test_a_second_failed_try_gives_up(database: Database) -> None:
    slots = {"customer_ref": "nobody", "postcode": "1", "identify_attempts": 1}
    assert await checks.Checks(database).run("verify_customer", slots) == "not_found"
    assert slots["identify_failed"] is True


def test_staff_only(client: TestClient) -> None:
    assert client.get("/customers").status_code == 401
    assert client.post("/customers/import", json={"customers": []}).status_code == 401


def test_list_and_get_customers(client: TestClient) -> None:
    page = client.get("/customers?limit=2", headers=STAFF).json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["limit"] == 2
    first = page["items"][0]
    assert first["devices"] and "warranty_end" in first["devices"][0]
    assert client.get(f"/customers/{first['id']}", headers=STAFF).status_code == 200
    assert client.get("/customers/999", headers=STAFF).status_code == 404
    areas = client.get("/service-areas", headers=STAFF).json()
    assert {a["code"] for a in areas} >= {"berlin-mitte", "hamburg-nord"}


def _record(**overrides: object) -> dict:
    record = {
        "account_number": "ACC-2001",
        "email": "new.customer@example.com",
        "name": "New Customer",
        "postcode": "10117",
        "address": "Unter den Linden 1, 10117 Berlin",
        "service_area": "berlin-mitte",
        "services": ["internet"],
        "devices": [{"type": "router", "model": "FritzBox 7530", "serial": "FB7530-X1"}],
    }
    record.update(overrides)
    return record


def test_import_is_idempotent(client: TestClient) -> None:
    body = {"customers": [_record()]}
    assert client.post("/customers/import", json=body, headers=STAFF).json() == {
        "created": 1,
        "updated": 0,
    }
    again = client.post("/customers/import", json=body, headers=STAFF).json()
    assert again == {"created": 0, "updated": 1}
    assert client.get("/customers", headers=STAFF).json()["total"] == 5


@pytest.mark.parametrize(
    "record",
    [
        _record(service_area="atlantis"),
        _record(email="not-an-email"),
        _record(services=["telepathy"]),
        _record(account_number="x"),
    ],
)
def test_bad_imports_are_refused_with_a_reason(client: TestClient, record: dict) -> None:
    response = client.post("/customers/import", json={"customers": [record]}, headers=STAFF)
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_devices_keep_their_owner(database: Database) -> None:
    async with database.session() as session:
        await load_seed(session=session)
        with pytest.raises(ValueError, match="another customer"):
            await customers.import_customers(
                session=session,
                records=[
                    {
                        "account_number": "ACC-3001",
                        "email": "x@example.com",
                        "name": "X",
                        "postcode": "1",
                        "address": "Somewhere 1",
                        "service_area": "berlin-mitte",
                        "services": [],
                        "tier": "standard",
                        "devices": [
                            {"type": "router", "model": "FritzBox 7590", "serial": "FB7590-A1001"}
                        ],
                    }
                ],
            )
    async with database.session() as session:
        owners = (await session.execute(select(Device.customer_id))).scalars().all()
        assert len(owners) == 8
