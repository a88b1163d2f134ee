"""The console's queue frames arrive in the order the queue changed (api/routes/agent_socket.py).

Queue changes reach one console from several coroutines at once (a customer
asking for a person, another agent, the console's own hello). A snapshot read
before a change must never arrive after one read after it, or the console
shows "0 waiting" with a customer in the queue. The real socket class and
handoff desk on a real database; only the websocket is a recorder.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from starlette.websockets import WebSocketState

from api.db import Database
from api.routes.agent_socket import AgentSocket
from api.services import agents, handoffs
from api.services.presence import AgentPresence
from tests.api.test_callbacks import queued_chat


class RecordingWebSocket:
    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))


async def test_an_older_queue_snapshot_never_arrives_after_a_newer_one(
    database: Database, monkeypatch
) -> None:
    async with database.session() as session:
        agent = await agents.create_agent(
            session=session, email="queue@example.com", name="Quinn", password="long enough pw"
        )
    presence = AgentPresence()
    services = SimpleNamespace(
        desk=None,
        hub=None,
        database=database,
        presence=presence,
        settings=SimpleNamespace(max_frame_bytes=16_384),
    )
    websocket = RecordingWebSocket()
    console = AgentSocket(websocket, services, agent, token="t")  # type: ignore[arg-type]

    # The first snapshot is read before the customer queues and is slow to go out.
    read_first = asyncio.Event()
    release_first = asyncio.Event()
    real_waiting_for = handoffs.waiting_for
    calls = 0

    async def waiting_for(**kwargs: Any) -> list:
        nonlocal calls
        calls += 1
        waiting = await real_waiting_for(**kwargs)
        if calls == 1:
            read_first.set()
            await release_first.wait()
        return waiting

    monkeypatch.setattr(handoffs, "waiting_for", waiting_for)

    older = asyncio.create_task(console.send_queue())
    await read_first.wait()
    chat = await queued_chat(database)
    newer = asyncio.create_task(console.send_queue())
    await asyncio.sleep(0.05)  # the newer snapshot would be sent by now, were it not ordered
    release_first.set()
    await asyncio.gather(older, newer)

    queues = [f for f in websocket.frames if f["type"] == "queue"]
    assert [len(q["waiting"]) for q in queues] == [0, 1]
    assert queues[-1]["waiting"][0]["conversation_id"] == chat.conversation_id
