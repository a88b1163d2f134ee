"""Seeded fuzzing of the customer socket: every frame gets a documented answer.

About 1,500 random frames (binary, random and deeply nested JSON, huge integers,
control characters, strings around the size limit, unknown types, near-valid
messages) go to the in-process app. A server exception would be raised here by
the test client; besides that, every frame the server sends must be one the
protocol documents, and a closed socket must have a documented close code.
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
from tests.conftest import make_settings

SEED = 20261127
FRAMES = 1500
SERVER_TYPES = {"welcome", "ack", "typing", "message", "owner", "rating_request", "rating_saved"}


def documented_codes() -> set[str]:
    protocol = (PROJECT_ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    errors = protocol[protocol.index("## Errors") :]
    return set(re.findall(r"^\| `([a-z_]+)` \|", errors, flags=re.MULTILINE))


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    # The fuzzer opens a socket after every close: the limit on new conversations
    # from one address (tests/api/test_limits.py) is not what it is testing.
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


class Fuzzer:
    def __init__(self, rng: random.Random, limit: int) -> None:
        self.rng = rng
        self.limit = limit

    def text(self, longest: int = 40) -> str:
        pools = [
            "abc xyz",
            "\x00\x01\x02\x07\x1b\x7f\x85\u200b\u200e\u2028\ufeff \t\n",
            "äöü€漢字🙂\U0010ffff",
            '{}[]"\\/:,',
        ]
        pool = self.rng.choice(pools)
        return "".join(self.rng.choice(pool) for _ in range(self.rng.randint(0, longest)))

    def number(self) -> Any:
        return self.rng.choice(
            [
                0,
                -1,
                5,
                2**63 - 1,
                2**63,
                -(2**63) - 1,
                10 ** self.rng.randint(19, 400),
                1.5,
                1e308,
                True,
                None,
            ]
        )

    def value(self, depth: int) -> Any:
        kind = self.rng.randrange(6 if depth > 0 else 3)
        if kind == 0:
            return self.text()
        if kind == 1:
            return self.number()
        if kind == 2:
            return self.rng.choice([None, True, False])
        if kind == 3:
            return [self.value(depth - 1) for _ in range(self.rng.randint(0, 3))]
        return {self.text(8): self.value(depth - 1) for _ in range(self.rng.randint(0, 3))}

    def frame(self) -> str | bytes:
        rng = self.rng
        choice = rng.randrange(14)
        if choice == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        if choice == 1:
            levels = rng.randint(5, 1200)
            return "[" * levels + "]" * levels if rng.random() < 0.5 else '{"a":' * levels
        if choice == 2:
            return rng.choice(["", "{", "nul", "NaN", "[1,2]", '"x"', "1e999", "{}", "\x00"])
        if choice == 3:
            size = self.limit + rng.randint(-200, 200)
            return json.dumps({"type": "message", "client_id": "big", "text": "x" * size})
        if choice == 4:
            return json.dumps(
                {
                    "type": rng.choice(["hello", "message", "rating", "ping"]),
                    "after_id": self.number(),
                    "score": self.number(),
                }
            )
        if choice == 5:
            return json.dumps({"type": self.value(2)})
        if choice == 6:
            escape = rng.choice(["\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0007"])
            return '{"type": "message", "client_id": "e1", "text": "a' + escape + '"}'
        if choice == 7:
            return json.dumps({"type": "hello", "session_token": self.value(1)})
        if choice == 8:
            return json.dumps({"type": "rating", "score": self.number(), "comment": self.value(1)})
        if choice == 9:
            return json.dumps({"type": "typing", "active": self.value(1)})
        if choice == 10:
            return json.dumps(self.value(4))
        payload = rng.choice(
            [
                None,
                "/greet",
                "/restart",
                "/session_start",
                "/back",
                "/greet\n",
                "/inform{}",
                '/inform{"choice":"x"}',
                "/keep_waiting",
                self.text(20),
                7,
            ]
        )
        frame = {
            "type": "message",
            "client_id": rng.choice(["c1", "abc\n", "", "x" * 65, self.text(10), 3]),
            "text": rng.choice([self.text(), "hello", "\x00", " ", None, 12]),
        }
        if payload is not None:
            frame["payload"] = payload
        return json.dumps(frame)


def test_random_frames_get_documented_answers_and_never_crash_the_socket(
    client: TestClient, app_settings: Settings
) -> None:
    codes = documented_codes()
    assert {"frame_too_large", "binary_frame", "nesting_too_deep", "invalid_json"} <= codes
    fuzzer = Fuzzer(random.Random(SEED), app_settings.max_frame_bytes)
    seen: dict[str, int] = {}
    closes = 0
    sent = 0
    while sent < FRAMES:
        with client.websocket_connect("/ws/chat") as socket:
            if fuzzer.rng.random() < 0.7:
                socket.send_json({"type": "hello"})
                assert socket.receive_json()["type"] == "welcome"
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
    # The run went through the interesting answers, not just one of them.
    for expected in (
        "binary_frame",
        "nesting_too_deep",
        "invalid_json",
        "invalid_message",
        "frame_too_large",
        "unknown_type",
        "ack",
        "welcome",
    ):
        assert seen.get(expected, 0) > 0, (expected, seen)
    assert closes == seen["frame_too_large"]
