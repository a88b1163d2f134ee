"""The real server (uvicorn and websockets) says why it closes a socket over a huge frame."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import uvicorn
import websockets

from api.main import create_app
from api.server import FrameLimitedWebSocketProtocol
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_frame_over_the_transport_limit_gets_frame_too_large_then_1009(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", max_frame_bytes=1024)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        ws=FrameLimitedWebSocketProtocol,
        ws_max_size=4 * settings.max_frame_bytes,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)

        async def talk() -> tuple[list[dict], int]:
            url = f"ws://127.0.0.1:{port}/ws/chat"
            async with websockets.connect(url) as chat:
                # Between the socket's limit and the transport's: the app answers.
                await chat.send(json.dumps({"type": "ping", "x": "a" * 2000}))
                handled = json.loads(await chat.recv())
            async with websockets.connect(url) as chat:
                await chat.send(json.dumps({"type": "ping"}))
                pong = json.loads(await chat.recv())
                # Over the transport's limit: refused by uvicorn before the app sees it.
                await chat.send(json.dumps({"type": "ping", "x": "a" * 100_000}))
                refused = json.loads(await chat.recv())
                try:
                    await chat.recv()
                except websockets.ConnectionClosed:
                    pass
                return [handled, pong, refused], chat.close_code

        (handled, pong, refused), close_code = asyncio.run(talk())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert handled["code"] == "frame_too_large"
    assert pong == {"type": "pong"}
    assert refused == {
        "type": "error",
        "code": "frame_too_large",
        "detail": "The frame is too large.",
    }
    assert close_code == 1009
