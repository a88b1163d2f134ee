"""A signed-in agent for tests: REST through httpx, live frames through /ws/agent."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, Optional

import httpx
import websockets


async def create_agent(base_url: str, operator_token: str, **fields: Any) -> dict[str, Any]:
    body = {"password": "a long password", "tier": 2, **fields}
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/agents", json=body, headers={"Authorization": f"Bearer {operator_token}"}
        )
        response.raise_for_status()
        return response.json()


class AgentClient:
    def __init__(self, base_url: str, ws_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.ws_url = ws_url.replace("/ws/chat", "/ws/agent")
        self.socket: Any = None
        self.frames: list[dict[str, Any]] = []

    async def login(self, email: str, password: str = "a long password") -> None:
        response = await self.http.post("/auth/login", json={"email": email, "password": password})
        response.raise_for_status()

    @property
    def session_token(self) -> str:
        return self.http.cookies.get("agent_session") or ""

    async def connect(self) -> None:
        self.socket = await websockets.connect(
            self.ws_url, extra_headers={"Cookie": f"agent_session={self.session_token}"}
        )

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.http.aclose()

    async def next_frame(self, timeout: float = 20) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError("the expected frame did not arrive")
            frame = await self.next_frame(remaining)
            if predicate(frame):
                return frame

    async def waiting(
        self, conversation_id: str, timeout: float = 20, **expected: Any
    ) -> dict[str, Any]:
        """The queue entry for the conversation (with the expected fields), once it shows up."""

        def matches(entry: dict[str, Any]) -> bool:
            return entry["conversation_id"] == conversation_id and all(
                entry.get(k) == v for k, v in expected.items()
            )

        frame = await self.wait_for(
            lambda f: f["type"] == "queue" and any(matches(h) for h in f["waiting"]), timeout
        )
        return next(h for h in frame["waiting"] if matches(h))

    async def say(self, conversation_id: str, text: str, client_id: Optional[str] = None) -> None:
        await self.socket.send(
            json.dumps(
                {
                    "type": "message",
                    "conversation_id": conversation_id,
                    "client_id": client_id or f"a-{uuid.uuid4().hex[:10]}",
                    "text": text,
                }
            )
        )
