"""Both websockets answer every frame with a documented frame, whatever the client sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.config import Settings
from api.main import create_app
from api.routes.frames import MAX_JSON_DEPTH, nesting_exceeds
from tests.conftest import make_settings

PASSWORD = "long enough password"


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    # Rasa is not running: a message the assistant would answer gets the "unavailable" notice.
    return make_settings(tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def signed_in(client: TestClient) -> TestClient:
    from api.services import agents

    async def create() -> None:
        async with client.app.state.services.database.session() as session:
            await agents.create_agent(
                session=session, email="anna@example.com", name="Anna", password=PASSWORD
            )

    client.portal.call(create)
    login = client.post("/auth/login", json={"email": "anna@example.com", "password": PASSWORD})
    assert login.status_code == 200
    return client


def receive(socket: Any) -> dict[str, Any]:
    """The next frame that answers the client (the console also gets queue updates)."""
    while True:
        frame = socket.receive_json()
        if frame["type"] != "queue":
            return frame


def start(socket: Any) -> dict[str, Any]:
    socket.send_json({"type": "hello"})
    welcome = receive(socket)
    assert welcome["type"] == "welcome"
    return welcome


def assert_usable(socket: Any) -> None:
    socket.send_json({"type": "ping"})
    assert receive(socket) == {"type": "pong"}


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


# ------------------------------------------------------------------ both sockets

SOCKETS = ["/ws/chat", "/ws/agent"]


def connect(client: TestClient, path: str) -> Any:
    if path == "/ws/agent":
        signed_in(client)
        socket = client.websocket_connect(path)
        return socket
    return client.websocket_connect(path)


def agent_greeting(socket: Any) -> None:
    assert socket.receive_json()["type"] == "hello"
    assert socket.receive_json()["type"] == "queue"


@pytest.mark.parametrize("path", SOCKETS)
def test_a_binary_frame_gets_an_error_frame_and_the_socket_stays_usable(
    client: TestClient, path: str
) -> None:
    with connect(client, path) as socket:
        if path == "/ws/agent":
            agent_greeting(socket)
        socket.send_bytes(b'{"type": "ping"}')
        assert receive(socket)["code"] == "binary_frame"
        socket.send_bytes(b"")
        assert receive(socket)["code"] == "binary_frame"
        assert_usable(socket)


@pytest.mark.parametrize("path", SOCKETS)
def test_deeply_nested_json_is_refused_before_it_is_parsed(client: TestClient, path: str) -> None:
    with connect(client, path) as socket:
        if path == "/ws/agent":
            agent_greeting(socket)
        socket.send_text(deep_json(1000))  # 2 KB; the parser would recurse 1,000 times
        assert receive(socket)["code"] == "nesting_too_deep"
        socket.send_text('{"type": "ping", "x": ' + deep_json(MAX_JSON_DEPTH + 1)[1:-1] + "}")
        assert receive(socket)["code"] == "nesting_too_deep"
        # As deep as allowed is fine.
        socket.send_text('{"type": "ping", "x": ' + deep_json(MAX_JSON_DEPTH - 1) + "}")
        assert receive(socket) == {"type": "pong"}


@pytest.mark.parametrize("path", SOCKETS)
def test_integers_beyond_64_bits_are_refused(client: TestClient, path: str) -> None:
    with connect(client, path) as socket:
        if path == "/ws/agent":
            agent_greeting(socket)
        for number in (2**63, -(2**63) - 1, 10**4000):
            socket.send_text(json.dumps({"type": "ping", "n": number}))
            error = receive(socket)
            assert error["type"] == "error" and error["code"] == "invalid_message"
        assert_usable(socket)


@pytest.mark.parametrize("path", SOCKETS)
def test_a_frame_over_the_limit_is_answered_then_closed_with_1009(
    client: TestClient, app_settings: Settings, path: str
) -> None:
    limit = app_settings.max_frame_bytes * (2 if path == "/ws/agent" else 1)
    with connect(client, path) as socket:
        if path == "/ws/agent":
            agent_greeting(socket)
        socket.send_text('{"type": "ping", "x": "' + "é" * (limit // 2) + '"}')
        assert receive(socket)["code"] == "frame_too_large"
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(socket)
    assert closed.value.code == 1009


@pytest.mark.parametrize("path", SOCKETS)
def test_nul_and_unpaired_surrogates_are_refused(client: TestClient, path: str) -> None:
    with connect(client, path) as socket:
        if path == "/ws/agent":
            agent_greeting(socket)
        for escaped in ("hi\\u0000", "\\ud800", "a\\udfff b"):
            socket.send_text('{"type": "ping", "text": "' + escaped + '"}')
            assert receive(socket)["code"] == "invalid_message"
        # A surrogate pair is an ordinary character (json.dumps writes emoji this way).
        socket.send_text('{"type": "ping", "text": "\\ud83d\\ude00"}')
        assert receive(socket) == {"type": "pong"}


# ------------------------------------------------------------------ /ws/chat


def test_after_id_beyond_64_bits_is_refused_and_the_largest_id_works(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_text(json.dumps({"type": "hello", "after_id": 2**63}))
        assert receive(socket)["code"] == "invalid_message"
        socket.send_json({"type": "hello", "after_id": 2**63 - 1})
        welcome = receive(socket)
        assert welcome["type"] == "welcome" and welcome["history"] == []


@pytest.mark.parametrize("client_id", ["abc\n", "abc\r\n", "\nabc", "a b", "x" * 65])
def test_a_client_id_with_a_newline_is_refused(client: TestClient, client_id: str) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        start(socket)
        socket.send_json({"type": "message", "client_id": client_id, "text": "hello"})
        error = receive(socket)
        assert error["code"] == "invalid_message" and "client_id" in error["detail"]


@pytest.mark.parametrize(
    "text", ["\x01\x02", "\x1b\x08", " \t\n", "\u200b\u200e", "\x7f\x85", "\u2028\u3000"]
)
def test_a_text_without_a_visible_character_is_refused(client: TestClient, text: str) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        start(socket)
        socket.send_json({"type": "message", "client_id": "c-1", "text": text})
        error = receive(socket)
        assert error == {
            "type": "error",
            "code": "invalid_message",
            "detail": "text must be a string with a visible character.",
            "client_id": "c-1",
        }


@pytest.mark.parametrize("text", ["\x00", "\x00\x01\x02", "hello\x00"])
def test_a_text_with_nul_is_refused_and_not_stored(client: TestClient, text: str) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        token = start(socket)["session_token"]
        socket.send_json({"type": "message", "client_id": "c-1", "text": text})
        assert receive(socket)["code"] == "invalid_message"
        assert_usable(socket)
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello", "session_token": token})
        assert receive(socket)["history"] == []


@pytest.mark.parametrize(
    "payload",
    [
        "/greet\n",
        '/inform{"choice":"orange"}\n',
        "/restart",
        "/session_start",
        "/back",
        "/action_listen",
        "/no_such_intent",
        "greet",
    ],
)
def test_payloads_that_are_not_the_assistants_are_refused_and_not_stored(
    client: TestClient, payload: str
) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        token = start(socket)["session_token"]
        socket.send_json({"type": "message", "client_id": "c-1", "text": "Go", "payload": payload})
        error = receive(socket)
        assert error["code"] == "invalid_message" and error["client_id"] == "c-1"
        assert_usable(socket)
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello", "session_token": token})
        assert receive(socket)["history"] == []


@pytest.mark.parametrize(
    "payload", ["/greet", '/inform{"choice":"orange"}', "/keep_waiting", "/request_human"]
)
def test_the_assistants_payloads_are_accepted(client: TestClient, payload: str) -> None:
    with client.websocket_connect("/ws/chat") as socket:
        start(socket)
        socket.send_json({"type": "message", "client_id": "c-1", "text": "Go", "payload": payload})
        ack = receive(socket)
        assert ack["type"] == "ack" and ack["client_id"] == "c-1"
        # The turn ends (Rasa is down: the "unavailable" notice) before the socket closes.
        frames = [receive(socket)]
        while not (frames[-1]["type"] == "typing" and not frames[-1].get("active")):
            frames.append(receive(socket))
        assert any(f["type"] == "message" for f in frames), frames


def test_nesting_is_measured_outside_strings() -> None:
    assert not nesting_exceeds('{"text": "' + "[" * 50 + '"}')
    assert not nesting_exceeds('{"text": "\\"' + "{" * 50 + '"}')
    assert nesting_exceeds('{"a": ' + "[" * 50 + "]" * 50 + "}")
    assert not nesting_exceeds("[]" * 500)  # many, but side by side


def test_every_button_the_assistant_offers_is_a_payload_it_accepts() -> None:
    from api.routes.chat import valid_payload
    from api.services.diagnosis import domain_buttons, person_button
    from api.services.handoff_desk import queue_buttons
    from bot.flows.engine import choice_payload

    offered = [b["payload"] for b in [*domain_buttons(), person_button(), *queue_buttons()]]
    offered += ["/affirm", "/deny", "/cancel_visit", choice_payload("blinking orange")]
    offered += ['/reschedule_visit{"visit_slot":"3@2026-12-01T09:00Z"}']
    assert [p for p in offered if not valid_payload(p)] == []
