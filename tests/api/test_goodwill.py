"""Goodwill: the policy decides what the bot may offer; agents stay within their limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import Database
from api.main import create_app
from api.models import Customer
from api.services import catalog, goodwill, outages, tickets
from api.services.errors import Conflict, Forbidden
from api.services.seed import load_seed
from api.services.staff import Staff
from tests.api.test_customers import OPERATOR, STAFF
from tests.conftest import make_settings

NOW = datetime.now(timezone.utc)
AGENT = Staff(id=5, name="Anna Agent", role="agent", tier=2)


async def _customer(session, account: str) -> Customer:
    await load_seed(session=session)
    found = await session.execute(select(Customer).where(Customer.account_number == account))
    return found.scalar_one()


def test_the_policy_file_reads() -> None:
    policy = catalog.goodwill_policy()
    assert [r.id for r in policy.rules][:2] == ["long_outage", "unresolved_after_visit"]
    assert policy.max_gestures == 2 and policy.agent_max_credit == Decimal("25.00")


async def test_a_long_outage_earns_a_credit_within_limits(database: Database) -> None:
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        assert (await goodwill.eligibility(session=session, customer=maria)).rule is None
        await outages.create_outage(
            session=session, service_area=maria.service_area, description="fibre cut",
            starts_at=NOW - timedelta(hours=10), actor="ops",
        )  # fmt: skip
        verdict = await goodwill.eligibility(session=session, customer=maria)
        assert verdict.rule is not None and verdict.rule.id == "long_outage"
        for _ in range(2):
            offer = await goodwill.record_offer(
                session=session, customer_id=maria.id, gesture=verdict.rule.gesture,
                reason=verdict.reason, offered_by="bot",
            )  # fmt: skip
        await goodwill.decide(session=session, gesture=offer, accepted=True, actor="maria")
        with pytest.raises(Conflict):
            await goodwill.decide(session=session, gesture=offer, accepted=False, actor="maria")
        # Two gestures in the period: the limit is reached.
        limited = await goodwill.eligibility(session=session, customer=maria)
        assert limited.rule is None and "already had 2" in limited.reason


async def test_a_short_outage_earns_nothing(database: Database) -> None:
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        await outages.create_outage(
            session=session, service_area=maria.service_area, description="short",
            starts_at=NOW - timedelta(hours=1), expected_end=NOW + timedelta(hours=1),
            actor="ops",
        )  # fmt: skip
        assert (await goodwill.eligibility(session=session, customer=maria)).rule is None


async def test_repeat_contacts_count_for_premium_customers(database: Database) -> None:
    async with database.session() as session:
        tom = await _customer(session, "ACC-1002")  # premium
        for title in ("Slow", "Drops"):
            await tickets.open_ticket(
                session=session, conversation_id=None, domain="internet", title=title,
                customer_id=tom.id,
            )  # fmt: skip
        verdict = await goodwill.eligibility(session=session, customer=tom, domain="internet")
        assert verdict.rule is not None and verdict.rule.id == "repeat_contact_premium"


async def test_agents_stay_within_their_limits(database: Database) -> None:
    async with database.session() as session:
        maria = await _customer(session, "ACC-1001")
        gesture = await goodwill.staff_offer(
            session=session, staff=AGENT, customer_id=maria.id, kind="service_credit",
            amount=Decimal("20"), description="€20 credit", reason="three visits",
        )  # fmt: skip
        assert gesture.offered_by == "Anna Agent" and gesture.staff_id == 5
        with pytest.raises(Forbidden, match="limit"):
            await goodwill.staff_offer(
                session=session, staff=AGENT, customer_id=maria.id, kind="service_credit",
                amount=Decimal("26"), description="too much", reason="x",
            )  # fmt: skip
        with pytest.raises(Forbidden, match="role"):
            await goodwill.staff_offer(
                session=session, staff=AGENT, customer_id=maria.id, kind="device_replacement",
                amount=Decimal("0"), description="new router", reason="x",
            )  # fmt: skip
        with pytest.raises(Conflict, match="exceed"):
            await goodwill.staff_offer(
                session=session, staff=AGENT, customer_id=maria.id, kind="service_credit",
                amount=Decimal("15"), description="€15", reason="x",
            )  # fmt: skip


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token=OPERATOR)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_goodwill_endpoints(client: TestClient) -> None:
    assert client.get("/goodwill/policy").status_code == 401
    policy = client.get("/goodwill/policy", headers=STAFF).json()
    assert policy["rules"][0]["id"] == "long_outage"
    body = {
        "customer_id": 1,
        "kind": "device_replacement",
        "description": "a new router",
        "reason": "the router failed three times",
    }
    key = {**STAFF, "Idempotency-Key": "gw-1"}
    offered = client.post("/goodwill", json=body, headers=key)  # the operator is a supervisor
    assert offered.status_code == 201, offered.text
    assert client.post("/goodwill", json=body, headers=key).json()["id"] == offered.json()["id"]
    url = f"/goodwill/{offered.json()['id']}/decision"
    assert client.post(url, json={"accepted": True}, headers=STAFF).json()["status"] == "accepted"
    assert client.post(url, json={"accepted": False}, headers=STAFF).status_code == 409
    audit = client.get("/goodwill?customer_id=1", headers=STAFF).json()
    assert audit["total"] == 1 and audit["items"][0]["offered_by"] == "operator"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"customer_id": 999}, 404),
        ({"kind": "free_pizza"}, 422),
        ({"amount": "500"}, 403),
        ({"ticket_number": "TCK-999999"}, 404),
    ],
)
def test_bad_gestures(client: TestClient, body: dict, status: int) -> None:
    payload = {
        "customer_id": 1,
        "kind": "service_credit",
        "amount": "10",
        "description": "€10 credit",
        "reason": "long wait",
        **body,
    }
    response = client.post("/goodwill", json=payload, headers=STAFF)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_a_request_for_compensation_is_recognised_in_both_languages() -> None:
    policy = catalog.goodwill_policy()
    assert policy.asked_for("Third outage this month. I want compensation!")
    assert policy.asked_for("Ich will eine Entschädigung für die drei Tage")
    assert policy.asked_for("I expect a credit for the outage last week")
    # A bill question is not a request for compensation.
    assert not policy.asked_for("why was I charged twice this month?")
    assert not policy.asked_for("Meine Rechnung ist zu hoch")


def test_the_customer_reads_the_gesture_in_their_language_and_staff_in_english() -> None:
    policy = catalog.goodwill_policy()
    gesture = next(rule.gesture for rule in policy.rules if rule.id == "long_outage")
    assert gesture.description.startswith("a €10 credit")
    assert gesture.described_in("en") == gesture.description
    assert gesture.described_in("de").startswith("eine Gutschrift von 10 €")
    # A language without its own text reads the English.
    assert gesture.described_in("fr") == gesture.description


def test_a_money_word_with_lost_service_asks_for_compensation() -> None:
    policy = catalog.goodwill_policy()
    assert policy.asked_for("Ich hätte gern eine Gutschrift für die drei Tage ohne Internet.")
    assert policy.asked_for("I want a refund for the 3 days my internet was down")
    assert policy.asked_for("Erstattung bitte, ich hatte eine Woche kein Fernsehen")
    # The service lost, told with a verb.
    assert policy.asked_for(
        "Das ist jetzt das dritte Mal diesen Monat dass das Internet ausfällt. "
        "Ich will eine Gutschrift!"
    )
    assert policy.asked_for("the internet keeps going down, I want a refund")
    # German puts the verb last: „weil mein Internet seit drei Tagen nicht geht“.
    assert policy.asked_for(
        "Ich hätte gern eine Gutschrift, weil mein Internet seit drei Tagen nicht geht"
    )
    assert policy.asked_for("I want a credit, my TV hasn't worked since Friday")
    assert not policy.asked_for("Wann wird die Gutschrift auf der Rechnung verbucht?")
    assert policy.asked_for("Wer zahlt mir eigentlich die drei Tage ohne Internet zurück?")
    assert policy.asked_for("who is going to pay me back for the days without internet?")
    # Paying for a service that fails is the fault, not an ask for money.
    assert not policy.asked_for("I pay for 500 Mbit and have no internet")
    # A visit missed counts as service lost.
    assert policy.asked_for(
        "Ich will mich beschweren. Drei Termine wurden abgesagt und niemand ruft zurück. "
        "Ich will eine Gutschrift."
    )
    assert policy.asked_for("the technician never showed up and I want a credit for my day off")
    # Money alone is billing; so is lost service with no money asked for.
    assert not policy.asked_for("I want a refund, you charged me twice")
    assert not policy.asked_for("can you bring my bill down with a discount")
    assert not policy.asked_for("Seit drei Tagen kein Internet")
