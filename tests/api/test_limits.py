"""Abuse limits: messages per conversation and per address, new conversations, wrong
logins, and the request body size, each with its documented refusal."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.services.limits import Limits, MemoryCounters, RedisCounters
from bot.wording import say
from tests.conftest import make_settings

PASSWORD = "long enough password"


def app_client(tmp_path: Path, **overrides: Any) -> TestClient:
    settings = make_settings(
        tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=0.5, **overrides
    )
    return TestClient(create_app(settings))


def hello(socket_: Any, token: str | None = None, language: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "hello", "session_token": token}
    if language is not None:
        frame["language"] = language
    socket_.send_json(frame)
    return socket_.receive_json()


def send(socket_: Any, client_id: str, text: str = "hello") -> dict[str, Any]:
    """The answer to a message: its ack, or an error (other frames are passed over).

    After an ack, the rest of the turn is read (the unavailable notice and the end
    of the turn), so that no turn is still running when the test closes the socket.
    """
    socket_.send_json({"type": "message", "client_id": client_id, "text": text})
    while True:
        frame = socket_.receive_json()
        if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
            answer = frame
            break
    while answer["type"] == "ack":
        frame = socket_.receive_json()
        if frame["type"] == "typing" and frame["active"] is False:
            break
    return answer


def test_the_message_limit_counts_every_socket_of_a_conversation(tmp_path: Path) -> None:
    with app_client(tmp_path, max_messages_per_minute=3) as client:
        with client.websocket_connect("/ws/chat") as one:
            token = hello(one)["session_token"]
            with client.websocket_connect("/ws/chat") as other:
                assert hello(other, token)["resumed"] is True
                answers = [send(one, "a1"), send(other, "b1"), send(one, "a2")]
                assert [a["type"] for a in answers] == ["ack", "ack", "ack"]
                refused = send(other, "b2")
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert refused["client_id"] == "b2" and 1 <= refused["retry_after"] <= 60
        # Another conversation from the same address has its own count.
        with client.websocket_connect("/ws/chat") as third:
            hello(third)
            assert send(third, "c1")["type"] == "ack"


def test_a_refusal_is_in_the_conversations_language(tmp_path: Path) -> None:
    with app_client(
        tmp_path, max_messages_per_minute=1, max_new_conversations_per_minute=1
    ) as client:
        with client.websocket_connect("/ws/chat") as chat:
            assert hello(chat, language="de")["language"] == "de"
            assert send(chat, "d1", "Guten Tag, mein Internet geht nicht")["type"] == "ack"
            refused = send(chat, "d2", "Hallo, sind Sie noch da?")
        assert refused["code"] == "rate_limited"
        assert refused["detail"] == say("limits.messages", "de")
        with client.websocket_connect("/ws/chat") as chat:
            refused = hello(chat, language="de-AT")
        assert refused["code"] == "rate_limited"
        assert refused["detail"] == say("limits.new_conversations", "de")


def test_the_message_limit_per_address_counts_every_conversation(tmp_path: Path) -> None:
    with app_client(
        tmp_path, max_messages_per_minute=10, max_messages_per_minute_per_address=3
    ) as client:
        answers = []
        for n in range(2):
            with client.websocket_connect("/ws/chat") as chat:
                hello(chat)
                answers += [send(chat, f"m{n}-1"), send(chat, f"m{n}-2")]
    assert [a["type"] for a in answers] == ["ack", "ack", "ack", "error"]
    assert answers[-1]["code"] == "rate_limited"
    assert "network" in answers[-1]["detail"]


def test_new_conversations_per_address_are_limited_but_resuming_is_not(tmp_path: Path) -> None:
    with app_client(tmp_path, max_new_conversations_per_minute=2) as client:
        tokens = []
        for _ in range(2):
            with client.websocket_connect("/ws/chat") as chat:
                tokens.append(hello(chat)["session_token"])
        with client.websocket_connect("/ws/chat") as chat:
            refused = hello(chat)
            assert refused["type"] == "error" and refused["code"] == "rate_limited"
            assert refused["retry_after"] >= 1
            assert "existing" in refused["detail"]
            # The same socket may still continue a conversation it has.
            assert hello(chat, tokens[0])["resumed"] is True


def test_an_exempt_address_is_not_limited_per_address(tmp_path: Path) -> None:
    with app_client(
        tmp_path, max_new_conversations_per_minute=1, limits_exempt_addresses="testclient"
    ) as client:
        for _ in range(3):
            with client.websocket_connect("/ws/chat") as chat:
                assert hello(chat)["type"] == "welcome"


# ------------------------------------------------------------------ sign-in


def create_agent(client: TestClient, email: str) -> None:
    from api.services import agents

    async def create() -> None:
        async with client.app.state.services.database.session() as session:
            await agents.create_agent(session=session, email=email, name="Anna", password=PASSWORD)

    client.portal.call(create)


def login(client: TestClient, email: str, password: str) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password})


@pytest.fixture
def login_client(tmp_path: Path) -> Iterator[TestClient]:
    with app_client(
        tmp_path,
        login_failures_per_account=2,
        login_failures_per_address=5,
        login_first_wait_seconds=1,
        login_max_wait_seconds=4,
    ) as client:
        create_agent(client, "anna@example.com")
        yield client


def test_wrong_passwords_make_the_account_wait_longer_each_time(login_client: TestClient) -> None:
    email = "anna@example.com"
    assert login(login_client, email, "wrong").status_code == 401
    assert login(login_client, email, "wrong").status_code == 401  # the last free try
    waiting = login(login_client, email, PASSWORD)  # even the right password waits
    assert waiting.status_code == 429
    assert waiting.headers["retry-after"] == "1"
    assert waiting.json() == {
        "detail": "Too many failed sign-ins. Please wait before trying again."
    }
    time.sleep(1.1)
    assert login(login_client, email, "wrong").status_code == 401
    assert login(login_client, "ANNA@example.com", PASSWORD).headers["retry-after"] == "2"
    time.sleep(2.1)
    assert login(login_client, email, PASSWORD).status_code == 200
    # A sign-in that worked starts the account's count over.
    assert login(login_client, email, "wrong").status_code == 401
    assert login(login_client, email, PASSWORD).status_code == 200


def test_wrong_passwords_for_many_accounts_make_the_address_wait(login_client: TestClient) -> None:
    for n in range(5):
        assert login(login_client, f"guess{n}@example.com", "wrong").status_code == 401
    refused = login(login_client, "anna@example.com", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_the_login_answers_are_documented() -> None:
    schema = create_app(make_settings(Path("/tmp"))).openapi()
    answers = schema["paths"]["/auth/login"]["post"]["responses"]
    assert {"200", "401", "413", "422", "429"} <= set(answers)


# ------------------------------------------------------------ shared counters


async def test_limits_in_redis_hold_across_api_workers() -> None:
    redis_url = f"redis://127.0.0.1:6379/{9}"
    settings = make_settings(
        Path("/tmp"), redis_url=redis_url, max_messages_per_minute=2, login_failures_per_account=2
    )
    workers = [Limits(settings), Limits(settings)]
    conversation = uuid.uuid4().hex
    try:
        assert isinstance(workers[0].counters, RedisCounters)
        answers = [
            await workers[n % 2].message(conversation_id=conversation, address="10.0.0.1")
            for n in range(3)
        ]
        assert answers[:2] == [None, None]
        assert answers[2] is not None and 1 <= answers[2].retry_after <= 60
        email = f"{conversation}@example.com"
        for worker in workers:
            await worker.login_failed(email=email, address="10.0.0.2")
        waits = [await w.login_wait(email=email, address="10.0.0.3") for w in workers]
        assert all(w is not None for w in waits)
    finally:
        for worker in workers:
            await worker.close()


async def test_memory_counters_start_a_new_window_when_one_ends() -> None:
    counters = MemoryCounters()
    assert (await counters.add("k", 0.2))[0] == 1
    assert (await counters.add("k", 0.2))[0] == 2
    await asyncio.sleep(0.25)
    assert (await counters.add("k", 0.2))[0] == 1
    await counters.block("k", 0.2)
    assert 0 < await counters.blocked_for("k") <= 0.2
    await counters.reset("k")
    assert await counters.blocked_for("k") == 0


# ------------------------------------------------------------------ body size


def test_a_body_over_the_limit_is_refused_with_413(tmp_path: Path) -> None:
    with app_client(tmp_path, max_request_bytes=2048) as client:
        big = '{"email": "a@example.com", "password": "' + "x" * 4000 + '"}'
        declared = client.post(
            "/auth/login", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.json() == {"detail": "The request body is too large: at most 2048 bytes."}
        assert declared.headers["x-content-type-options"] == "nosniff"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(8):
                yield b"x" * 1000

        streamed = client.post(
            "/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert login(client, "nobody@example.com", "small").status_code == 401


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_50_mb_login_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    """The real server answers 413 to the headers alone: the 50 MB never need to arrive."""
    settings: Settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(
                b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000000\r\n\r\n" + b'{"email": "' + b"a" * 1000
            )
            answer = raw.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 413 "), answer
        assert "too large" in answer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
