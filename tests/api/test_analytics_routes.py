"""The analytics REST API and the trainer role: who may see what."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.config import Settings
from api.db import Database, run_migrations
from api.main import create_app
from tests.analytics_history import EXPECTED, FLOW_ID, write_history
from tests.conftest import make_settings

PASSWORD = "long enough password"
THAT_DAY = "from=2026-11-02&to=2026-11-02"
ANALYTICS = [
    ("GET", f"/analytics/flows?{THAT_DAY}"),
    ("GET", f"/analytics/flows.csv?{THAT_DAY}"),
    ("GET", f"/analytics/flows/{FLOW_ID}/steps?{THAT_DAY}"),
    ("GET", f"/analytics/flows/{FLOW_ID}/steps.csv?{THAT_DAY}"),
    ("GET", f"/analytics/daily?{THAT_DAY}"),
    ("GET", f"/analytics/daily.csv?flow_id={FLOW_ID}&{THAT_DAY}"),
    ("GET", f"/analytics/review?{THAT_DAY}"),
    ("GET", "/analytics/intents"),
]
LABEL = ("POST", "/analytics/review/labels")
# Customer conversations and records: agents and supervisors only.
CUSTOMER_SIDE = [
    ("GET", "/tickets"),
    ("GET", "/handoffs/queue"),
    ("GET", "/handoffs/mine"),
    ("GET", "/customers"),
    ("GET", "/conversations/c1/transcript"),
    ("GET", "/conversations/c1"),
    ("GET", "/outages"),
]


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("analytics")
    settings = make_settings(directory, reviewed_nlu_file=directory / "nlu" / "reviewed.yml")
    run_migrations(settings)

    async def seed() -> None:
        database = Database()
        database.connect(settings)
        try:
            async with database.session() as session:
                await write_history(session)
        finally:
            await database.disconnect()

    asyncio.run(seed())
    return settings


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sign_in(client: TestClient, app_settings: Settings):
    """Headers of a signed-in agent, supervisor or trainer (created by the operator)."""
    operator = {"Authorization": f"Bearer {app_settings.operator_token}"}
    signed_in: dict[str, dict[str, str]] = {"operator": operator, "nobody": {}}

    def headers(role: str) -> dict[str, str]:
        if role not in signed_in:
            email = f"{role}@example.com"
            created = client.post(
                "/agents",
                json={
                    "email": email,
                    "name": role.capitalize(),
                    "password": PASSWORD,
                    "role": role,
                },
                headers=operator,
            )
            assert created.status_code == 201, created.text
            assert created.json()["role"] == role
            login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200
            signed_in[role] = {"Authorization": f"Bearer {login.cookies['agent_session']}"}
            client.cookies.clear()
        return signed_in[role]

    return headers


def call(client: TestClient, method: str, path: str, headers: dict[str, str]):
    if method == "POST":
        body = {"text": "the blinking one", "intent": "inform"}
        return client.post(path, json=body, headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize("role", ["trainer", "supervisor", "operator"])
def test_trainers_and_supervisors_see_the_analytics(client, sign_in, role: str) -> None:
    for method, path in [*ANALYTICS, LABEL]:
        response = call(client, method, path, sign_in(role))
        assert response.status_code == 200, (role, path, response.text)


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("nobody", 401)])
def test_agents_and_strangers_do_not(client, sign_in, role: str, status: int) -> None:
    for method, path in [*ANALYTICS, LABEL]:
        response = call(client, method, path, sign_in(role))
        assert response.status_code == status, (role, path, response.text)
    assert client.get("/analytics").status_code == 200  # the page itself asks for a sign-in


def test_trainers_see_no_customer_conversations(client, sign_in) -> None:
    trainer = sign_in("trainer")
    for method, path in CUSTOMER_SIDE:
        response = call(client, method, path, trainer)
        assert response.status_code == 403, (path, response.text)
        assert "Trainers see flow analytics" in response.json()["detail"]
    assert client.get("/agents/overview", headers=trainer).status_code == 403
    created = client.post(
        "/agents",
        json={"email": "x@example.com", "name": "X", "password": PASSWORD},
        headers=trainer,
    )
    assert created.status_code == 403
    me = client.get("/auth/me", headers=trainer)
    assert me.status_code == 200 and me.json()["role"] == "trainer"
    # Agents and supervisors still may (c1 is no valid chat id for some routes: a 422).
    for role in ("agent", "supervisor"):
        for method, path in CUSTOMER_SIDE:
            status = call(client, method, path, sign_in(role)).status_code
            assert status not in (401, 403), (role, path, status)


def test_a_signed_in_trainer_opening_the_console_is_sent_to_the_analytics_page(
    client, sign_in
) -> None:
    for role, expected in (("trainer", 303), ("agent", 200), ("nobody", 200)):
        headers = sign_in(role)
        if headers:
            client.cookies.set("agent_session", headers["Authorization"].split(" ", 1)[1])
        try:
            page = client.get("/console", follow_redirects=False)
        finally:
            client.cookies.clear()
        assert page.status_code == expected, role
        if expected == 303:
            assert page.headers["location"] == "/analytics"


def test_trainers_get_no_agent_socket(client, sign_in, app_settings: Settings) -> None:
    origin = {"origin": f"http://{app_settings.host}:{app_settings.port}"}
    for role, allowed in (("agent", True), ("trainer", False)):
        token = sign_in(role)["Authorization"].split(" ", 1)[1]
        client.cookies.set("agent_session", token)
        try:
            if allowed:
                with client.websocket_connect("/ws/agent", headers=origin) as socket:
                    assert socket.receive_json()["type"] == "hello"
            else:
                with pytest.raises(WebSocketDisconnect):
                    with client.websocket_connect("/ws/agent", headers=origin) as socket:
                        socket.receive_json()
        finally:
            client.cookies.clear()


def test_the_figures_over_rest_and_as_csv(client, sign_in) -> None:
    trainer = sign_in("trainer")
    flows = client.get(f"/analytics/flows?{THAT_DAY}", headers=trainer).json()
    assert (flows["first_day"], flows["last_day"]) == ("2026-11-02", "2026-11-02")
    (router,) = [f for f in flows["flows"] if f["flow_id"] == FLOW_ID]
    assert router["started"] == EXPECTED["started"]
    assert router["outcomes"] == {
        **EXPECTED["outcomes"],
        "abandoned": EXPECTED["abandoned"],
        "in_progress": 0,
    }
    assert router["containment"] == round(1 / 7, 4)
    assert router["median_turns"] == 1.0 and router["median_minutes"] == 0.5

    exported = client.get(f"/analytics/flows.csv?{THAT_DAY}", headers=trainer)
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="flows_2026-11-02_2026-11-02.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["flow_id"], r["started"], r["resolved"], r["abandoned"]) for r in rows] == [
        (FLOW_ID, "7", "2", "2")
    ]

    steps = client.get(f"/analytics/flows/{FLOW_ID}/steps?{THAT_DAY}", headers=trainer).json()
    reached = {s["step_id"]: s["reached"] for s in steps["steps"]}
    assert reached == EXPECTED["reached"]
    step_rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/analytics/flows/{FLOW_ID}/steps.csv?{THAT_DAY}", headers=trainer).text
            )
        )
    )
    assert {"lights", "not_matched", "Blue light", "1"} <= {
        v for r in step_rows if r["row"] == "not_matched" for v in r.values()
    }

    daily = client.get(f"/analytics/daily?{THAT_DAY}", headers=trainer).json()
    assert daily["days"] == [
        {
            "day": "2026-11-02",
            "started": 7,
            "contained": 1,
            "containment": round(1 / 7, 4),
            "handoff": 1,
            "handoff_rate": round(1 / 7, 4),
        }
    ]


def test_bad_requests_get_clear_answers(client, sign_in) -> None:
    trainer = sign_in("trainer")
    backwards = client.get("/analytics/flows?from=2026-11-05&to=2026-11-01", headers=trainer)
    assert backwards.status_code == 422
    assert "after its last day" in backwards.json()["detail"][0]["msg"]
    assert client.get("/analytics/flows?from=yesterday", headers=trainer).status_code == 422
    missing = client.get(f"/analytics/flows/no_such_flow/steps?{THAT_DAY}", headers=trainer)
    assert missing.status_code == 404 and "no_such_flow" in missing.json()["detail"]
    assert client.get("/analytics/flows/..%2Fetc/steps", headers=trainer).status_code in (404, 422)
    assert client.get("/analytics/review?kind=everything", headers=trainer).status_code == 422
    unknown = client.post(
        "/analytics/review/labels",
        json={"text": "Blue light", "intent": "nonsense"},
        headers=trainer,
    )
    assert unknown.status_code == 422 and "Unknown intent" in unknown.json()["detail"][0]["msg"]


def test_a_trainer_labels_a_message_and_is_told_to_retrain(
    client, sign_in, app_settings: Settings
) -> None:
    trainer = sign_in("trainer")
    before = client.get(f"/analytics/review?{THAT_DAY}", headers=trainer).json()["items"]
    assert "Blue light" in [i["text"] for i in before]
    labelled = client.post(
        "/analytics/review/labels", json={"text": "Blue light", "intent": "inform"}, headers=trainer
    )
    assert labelled.status_code == 200
    body = labelled.json()
    assert body["retrain_needed"] and "Retraining is needed" in body["message"]
    assert Path(body["file"]) == app_settings.reviewed_nlu_file
    assert "- Blue light" in app_settings.reviewed_nlu_file.read_text(encoding="utf-8")
    after = client.get(f"/analytics/review?{THAT_DAY}", headers=trainer).json()["items"]
    assert "Blue light" not in [i["text"] for i in after]
    done = client.get(f"/analytics/review?status=labelled&{THAT_DAY}", headers=trainer).json()
    assert all(i["label"] for i in done["items"])
    assert ("Blue light", "inform") in [(i["text"], i["label"]) for i in done["items"]]
