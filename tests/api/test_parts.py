"""Replacement parts: fit, warranty, stock, alternatives, orders, and the endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from api.db import Database
from api.main import create_app
from api.models import Customer, Ticket
from api.services import catalog, customers, parts, tickets
from api.services.errors import Conflict, Invalid, NotFound
from api.services.seed import load_seed
from tests.api.test_customers import OPERATOR, STAFF
from tests.conftest import make_settings

TODAY = date.today()


def _customer_record() -> dict:
    # Warranty dates relative to today, so the test means the same thing next year.
    return {
        "account_number": "ACC-7001",
        "email": "parts.test@example.com",
        "name": "Pat Parts",
        "postcode": "10115",
        "address": "Teststraße 1, 10115 Berlin",
        "service_area": "berlin-mitte",
        "services": ["internet", "cable_tv"],
        "tier": "standard",
        "devices": [
            {
                "type": "router",
                "model": "FritzBox 7590",
                "serial": "T-FB-1",
                "warranty_end": TODAY + timedelta(days=300),
            },
            {
                "type": "laptop",
                "model": "ProBook 450 G9",
                "serial": "T-PB-1",
                "warranty_end": TODAY - timedelta(days=30),
            },
            {
                "type": "set_top_box",
                "model": "HomeBox 200",
                "serial": "T-HB-1",
                "warranty_end": TODAY - timedelta(days=30),
            },
        ],
    }


async def _pat(session) -> Customer:
    await load_seed(session=session)
    await customers.import_customers(session=session, records=[_customer_record()])
    return await customers.verify_customer(session=session, reference="ACC-7001", postcode="10115")


def test_the_catalogue_has_the_required_parts() -> None:
    found = catalog.parts()
    assert {"PSU-65W-USBC", "KB-USB-STD", "MON-CABLE-HDMI", "RMT-STB-200"} <= set(found)
    assert found["RMT-STB-200"].alternative == "RMT-STB-UNI"


@pytest.mark.parametrize(
    ("part", "result", "price", "alternative"),
    [
        ("RTR-PSU-12V", "free", 0, None),
        ("PSU-65W-USBC", "quote", 3990, None),
        ("PRN-CART-BLK", "incompatible", 0, None),
        ("RMT-STB-200", "out_of_stock", 0, "RMT-STB-UNI"),
        ("NOPE-1", "unknown", 0, None),
    ],
)
async def test_quotes(database: Database, part, result, price, alternative) -> None:
    async with database.session() as session:
        pat = await _pat(session)
        quote = await parts.quote(session=session, customer=pat, part_number=part)
    assert quote.result == result
    assert quote.price_cents == price
    assert (quote.alternative.part_number if quote.alternative else None) == alternative
    if result in ("incompatible", "out_of_stock", "unknown"):
        assert quote.reason


async def test_an_order_in_warranty_is_free_and_waits_for_the_part(database: Database) -> None:
    async with database.session() as session:
        pat = await _pat(session)
        order = await parts.place_order(
            session=session, customer=pat, part_number="RTR-PSU-12V", idempotency_key="o-1"
        )
        again = await parts.place_order(
            session=session, customer=pat, part_number="RTR-PSU-12V", idempotency_key="o-1"
        )
        ticket = await session.get(Ticket, order.ticket_id)
        events = await tickets.ticket_events(session=session, ticket_id=order.ticket_id)
    assert again.id == order.id and order.in_warranty and order.price_cents == 0
    assert order.shipping_address == "Teststraße 1, 10115 Berlin"
    assert ticket is not None and ticket.status == "pending_part" and ticket.customer_id == pat.id
    assert [e.kind for e in events][-2:] == ["part_order", "status"]


async def test_out_of_warranty_needs_the_accepted_price(database: Database) -> None:
    async with database.session() as session:
        pat = await _pat(session)
        with pytest.raises(Invalid, match="39.90"):
            await parts.place_order(session=session, customer=pat, part_number="PSU-65W-USBC")
    async with database.session() as session:
        pat = await _pat(session)
        order = await parts.place_order(
            session=session, customer=pat, part_number="PSU-65W-USBC", accepted_price_cents=3990
        )
    assert order.price_cents == 3990 and not order.in_warranty


async def test_refusals_explain_and_suggest(database: Database) -> None:
    async with database.session() as session:
        pat = await _pat(session)
        with pytest.raises(Conflict) as refused:
            await parts.place_order(session=session, customer=pat, part_number="RMT-STB-200")
        assert refused.value.extra["alternative"] == "RMT-STB-UNI"
        with pytest.raises(Conflict, match="does not fit"):
            await parts.place_order(session=session, customer=pat, part_number="PRN-CART-BLK")
        with pytest.raises(NotFound):
            await parts.place_order(session=session, customer=pat, part_number="NOPE")


async def test_orders_use_up_the_stock(database: Database) -> None:
    async with database.session() as session:
        await _pat(session)
        await customers.import_customers(
            session=session,
            records=[
                {
                    **_customer_record(),
                    "account_number": "ACC-7002",
                    "email": "printer@example.com",
                    "devices": [{"type": "printer", "model": "LaserJet M110", "serial": "T-LJ-1"}],
                }
            ],
        )
        owner = await customers.verify_customer(
            session=session, reference="ACC-7002", postcode="10115"
        )
        stock = catalog.find_part("PRN-ROLLER-KIT").stock
        for _ in range(stock):
            await parts.place_order(
                session=session,
                customer=owner,
                part_number="PRN-ROLLER-KIT",
                accepted_price_cents=2990,
            )
        quote = await parts.quote(session=session, customer=owner, part_number="PRN-ROLLER-KIT")
    assert quote.result == "out_of_stock"


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token=OPERATOR)
    with TestClient(create_app(settings)) as test_client:
        test_client.post("/customers/import", json={"customers": [_json(_customer_record())]},
                         headers=STAFF)  # fmt: skip
        yield test_client


def _json(record: dict) -> dict:
    return {
        **record,
        "devices": [
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items()}
            for d in record["devices"]
        ],
    }


def _pat_id(client: TestClient) -> int:
    items = client.get("/customers?limit=200", headers=STAFF).json()["items"]
    return next(c["id"] for c in items if c["account_number"] == "ACC-7001")


def test_part_order_endpoints(client: TestClient) -> None:
    pat = _pat_id(client)
    assert len(client.get("/parts", headers=STAFF).json()) >= 10
    quote = client.get(f"/parts/PSU-65W-USBC/quote?customer_id={pat}", headers=STAFF).json()
    assert quote["result"] == "quote" and quote["price"] == "39.90"

    body = {"customer_id": pat, "part_number": "PSU-65W-USBC"}
    needs_price = client.post("/part-orders", json=body, headers=STAFF)
    assert needs_price.status_code == 422 and "39.90" in needs_price.json()["detail"][0]["msg"]
    key = {**STAFF, "Idempotency-Key": "order-77"}
    created = client.post("/part-orders", json={**body, "accepted_price": "39.90"}, headers=key)
    assert created.status_code == 201, created.text
    retried = client.post("/part-orders", json={**body, "accepted_price": "39.90"}, headers=key)
    assert retried.json()["id"] == created.json()["id"]
    assert client.get("/part-orders", headers=STAFF).json()["total"] == 1

    url = f"/part-orders/{created.json()['id']}"
    assert (
        client.patch(url, json={"status": "shipped"}, headers=STAFF).json()["status"] == "shipped"
    )
    back = client.patch(url, json={"status": "placed"}, headers=STAFF)
    assert back.status_code == 409 and "invalid transition" in back.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"part_number": "RMT-STB-200"}, 409, "out of stock"),
        ({"part_number": "PRN-CART-BLK"}, 409, "does not fit"),
        ({"part_number": "NOPE-1"}, 404, "no part"),
        ({"part_number": "RTR-PSU-12V", "ticket_number": "TCK-999999"}, 404, "No ticket"),
        ({"part_number": "RTR-PSU-12V", "customer_id": 999}, 404, "No customer"),
    ],
)
def test_bad_part_orders(client: TestClient, body: dict, status: int, needle: str) -> None:
    payload = {"customer_id": _pat_id(client), **body}
    response = client.post("/part-orders", json=payload, headers=STAFF)
    assert response.status_code == status
    assert needle.lower() in response.json()["detail"].lower()
    if body["part_number"] == "RMT-STB-200":
        assert response.json()["alternative"] == "RMT-STB-UNI"


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("can you send me a new remote", True),
        ("I need a replacement charger", True),
        ("Ich brauche ein neues Netzteil", True),
        ("Können Sie mir eine Ersatz-Fernbedienung schicken?", True),
        # What broke, and what was tried: a fault to look at first.
        ("Meine Fernbedienung geht nicht mehr, hab schon neue Batterien rein", False),
        ("my remote stopped working, already put new batteries in", False),
        ("my power supply is broken", False),
    ],
)
def test_a_part_is_asked_for_in_words(text: str, asks: bool) -> None:
    assert parts.asks_for_a_part(text) is asks


def test_prices_are_written_the_way_each_language_writes_them() -> None:
    assert parts.euros(1790) == "17.90"
    assert parts.euros(1790, "de") == "17,90"
