"""The action endpoint: rasa_sdk's protocol, its error shape, and its guard."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import make_settings

TRACKER = json.loads(
    (Path(__file__).parents[1] / "data" / "tracker_internet_problem.json").read_text()
)


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    # Rasa is deliberately not running: the webhook does not need it.
    return make_settings(tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def call(action: str, sender: str = "nobody") -> dict:
    tracker = dict(TRACKER, sender_id=sender)
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.action_token}"}


def test_without_the_token_no_action_runs(client: TestClient) -> None:
    response = client.post("/webhook", json=call("action_flow_start"))
    assert response.status_code == 401
    wrong = client.post(
        "/webhook", json=call("action_flow_start"), headers={"Authorization": "Bearer guess"}
    )
    assert wrong.status_code == 401


def test_an_unknown_action_is_404_in_rasa_sdk_shape(client: TestClient, app_settings) -> None:
    response = client.post("/webhook", json=call("action_launch"), headers=auth(app_settings))
    assert response.status_code == 404
    assert response.json()["action_name"] == "action_launch"
    assert "error" in response.json()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"next_action": "x"}'])
def test_malformed_bodies_are_400(client: TestClient, app_settings, body: bytes) -> None:
    response = client.post("/webhook", content=body, headers=auth(app_settings))
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid body request"}


def test_an_oversized_body_is_413(client: TestClient, app_settings) -> None:
    body = b"x" * (app_settings.max_webhook_bytes + 1)
    response = client.post("/webhook", content=body, headers=auth(app_settings))
    assert response.status_code == 413


def test_a_deflated_call_runs_the_flow_action(client: TestClient, app_settings) -> None:
    welcome = _new_conversation(client)
    body = zlib.compress(json.dumps(call("action_flow_start", welcome)).encode())
    response = client.post(
        "/webhook",
        content=body,
        headers={
            **auth(app_settings),
            "Content-Encoding": "deflate",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
    assert slots["flow_state"]["step"] == "lights"
    assert slots["active_flow"] == "internet_no_connection"
    assert result["responses"][-1]["buttons"]


def test_the_health_endpoint_says_what_is_missing(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] is True and body["rasa"] is False and body["model_loaded"] is False
    assert body["flows"] >= 1
    assert body["assistant_queue"] == {"in_flight": 0, "waiting": 0}


def test_the_demo_page_and_widget_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/widget/widget.js").status_code == 200
    assert client.get("/widget/../api/config.py").status_code == 404


def _new_conversation(client: TestClient) -> str:
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello"})
        return socket.receive_json()["conversation_id"]


def test_the_socket_answers_politely_when_rasa_is_down(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello"})
        assert socket.receive_json()["type"] == "welcome"
        socket.send_json({"type": "message", "client_id": "m1", "text": "hello"})
        frames = [socket.receive_json() for _ in range(4)]
    kinds = [f["type"] for f in frames]
    assert kinds == ["ack", "typing", "message", "typing"]
    assert frames[2]["sender"] == "system" and "unavailable" in frames[2]["text"]


def test_a_resend_of_a_message_that_was_never_forwarded_is_handled(client: TestClient) -> None:
    """A worker died after storing the message and its lease ran out: the resend gets it
    answered (while the lease runs, the resend is only acknowledged: tests/api/test_recovery.py)."""
    from api.runtime import runtime
    from api.services import conversations

    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello"})
        conversation_id = socket.receive_json()["conversation_id"]

        async def store() -> None:
            async with runtime.database.connection() as connection:
                await conversations.store_customer_message(
                    connection=connection,
                    conversation_id=conversation_id,
                    client_id="lost-1",
                    text="my internet is not working",
                    payload=None,
                    lease_seconds=0,  # the dead worker's lease has run out
                )

        client.portal.call(store)  # the app's own event loop
        socket.send_json(
            {"type": "message", "client_id": "lost-1", "text": "my internet is not working"}
        )
        frames = [socket.receive_json() for _ in range(4)]
    assert frames[0]["type"] == "ack" and frames[0]["duplicate"] is True
    assert [f["type"] for f in frames[1:]] == ["typing", "message", "typing"]


def test_a_write_that_loses_a_race_is_a_409_not_a_500(app_settings: Settings) -> None:
    from sqlalchemy.exc import IntegrityError

    app = create_app(app_settings)

    @app.post("/raced")
    async def raced() -> None:
        raise IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed"))

    with TestClient(app) as client:
        response = client.post("/raced")
    assert response.status_code == 409 and "retry" in response.json()["detail"]
