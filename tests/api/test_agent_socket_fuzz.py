"""Seeded fuzzing of the agent console's socket: every frame gets a documented answer.

About 1,500 random frames (binary, random and deeply nested JSON, huge
integers, control characters, frames around the size limit, unknown types,
near-valid `open`, `message` and `typing` frames for real, unknown and
malformed conversation ids) go to the in-process app from a signed-in
supervisor. A server exception would be raised here by the test client;
besides that, every frame the server sends must be one docs/console.md
documents, and the only close is 1009 after `frame_too_large`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.config import PROJECT_ROOT, Settings
from api.main import create_app
from tests.api.test_socket_fuzz import Fuzzer
from tests.conftest import make_settings

SEED = 20261205
FRAMES = 1500
PASSWORD = "long enough password"
SERVER_TYPES = {
    "hello",
    "queue",
    "opened",
    "pong",
    "ack",
    "message",
    "typing",
    "owner",
    "note",
    "rating",
    "rating_request",
}


def documented_codes() -> set[str]:
    console = (PROJECT_ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    paragraph = console[console.index("Codes: ") :].split("\n\n", 1)[0]
    return set(re.findall(r"`([a-z_]+)`", paragraph))


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        rasa_url="http://127.0.0.1:9",
        rasa_timeout_seconds=0.5,
        limits_exempt_addresses="testclient",
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def sign_in_supervisor(client: TestClient) -> None:
    from api.services import agents

    async def create() -> None:
        async with client.app.state.services.database.session() as session:
            await agents.create_agent(
                session=session,
                email="sam@example.com",
                name="Sam",
                password=PASSWORD,
                role="supervisor",
            )

    client.portal.call(create)
    answer = client.post("/auth/login", json={"email": "sam@example.com", "password": PASSWORD})
    assert answer.status_code == 200


class AgentFuzzer(Fuzzer):
    def __init__(self, rng: random.Random, limit: int, conversations: list[str]) -> None:
        super().__init__(rng, limit)
        self.conversations = conversations

    def conversation_id(self) -> Any:
        return self.rng.choice(
            [
                *self.conversations,
                "0" * 32,
                "x" * 33,
                "",
                self.text(32),
                self.number(),
                self.value(1),
            ]
        )

    def frame(self) -> str | bytes:
        rng = self.rng
        choice = rng.randrange(10)
        if choice < 4:
            return super().frame()  # the customer fuzzer's hostile frames
        if choice == 4:
            size = self.limit + rng.randint(-200, 200)
            return json.dumps({"type": "message", "client_id": "big", "text": "x" * size})
        kind = rng.choice(["open", "message", "typing", "ping", "close", self.text(6)])
        frame: dict[str, Any] = {"type": kind, "conversation_id": self.conversation_id()}
        if kind == "message" or rng.random() < 0.2:
            frame["client_id"] = rng.choice(["a-1", f"a-{rng.randrange(9)}", "", "a\n", 5])
            frame["text"] = rng.choice(["Hello", self.text(), "\x00", " ", None, "y" * 4100])
        if kind == "typing":
            frame["active"] = self.value(1)
        return json.dumps(frame)


def test_random_frames_to_the_console_socket_get_documented_answers(
    client: TestClient, app_settings: Settings
) -> None:
    codes = documented_codes()
    assert {"frame_too_large", "binary_frame", "unknown_conversation", "not_allowed"} <= codes
    conversations = []
    for _ in range(2):
        with client.websocket_connect("/ws/chat") as chat:
            chat.send_json({"type": "hello"})
            conversations.append(chat.receive_json()["conversation_id"])
    sign_in_supervisor(client)
    # The console's frames may be twice MAX_FRAME_BYTES.
    fuzzer = AgentFuzzer(random.Random(SEED), 2 * app_settings.max_frame_bytes, conversations)
    seen: dict[str, int] = {}
    closes = sent = 0
    while sent < FRAMES:
        with client.websocket_connect("/ws/agent") as socket:
            try:
                while sent < FRAMES:
                    frame = fuzzer.frame()
                    sent += 1
                    if isinstance(frame, bytes):
                        socket.send_bytes(frame)
                    else:
                        socket.send_text(frame)
                    # A ping after every frame: everything before the pong answers the frame.
                    socket.send_json({"type": "ping"})
                    while True:
                        answer = socket.receive_json()
                        kind = answer["type"]
                        if kind == "pong":
                            break
                        if kind == "error":
                            assert answer["code"] in codes, answer
                            seen[answer["code"]] = seen.get(answer["code"], 0) + 1
                        else:
                            assert kind in SERVER_TYPES, answer
                            seen[kind] = seen.get(kind, 0) + 1
            except WebSocketDisconnect as closed:
                assert closed.code == 1009  # the only close: after frame_too_large
                closes += 1
    for expected in (
        "binary_frame",
        "nesting_too_deep",
        "invalid_json",
        "invalid_message",
        "frame_too_large",
        "unknown_type",
        "unknown_conversation",
        "not_allowed",
        "opened",
    ):
        assert seen.get(expected, 0) > 0, (expected, seen)
    assert closes == seen["frame_too_large"]
