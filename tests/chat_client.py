"""A small websocket client that speaks the chat protocol (docs/protocol.md), for tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Optional

import websockets


class ChatClient:
    def __init__(self, ws_url: str, *, origin: Optional[str] = None) -> None:
        self.ws_url = ws_url
        self.origin = origin
        self.socket: Any = None
        self.session_token: Optional[str] = None
        self.welcome: dict[str, Any] = {}

    async def connect(
        self,
        *,
        session_token: Optional[str] = None,
        after_id: Optional[int] = None,
        language: Optional[str] = None,
    ) -> dict[str, Any]:
        self.socket = await websockets.connect(self.ws_url, origin=self.origin, max_size=2**20)
        hello: dict[str, Any] = {"type": "hello", "session_token": session_token}
        if after_id is not None:
            hello["after_id"] = after_id
        if language is not None:
            hello["language"] = language
        await self.send_frame(hello)
        self.welcome = await self.receive(kind="welcome")
        self.session_token = self.welcome["session_token"]
        return self.welcome

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame))

    async def receive(self, *, kind: Optional[str] = None, timeout: float = 30) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if kind is None or frame["type"] == kind or frame["type"] == "error":
                return frame

    async def say(
        self,
        text: str,
        *,
        payload: Optional[str] = None,
        client_id: Optional[str] = None,
        timeout: float = 30,
        expect_reply: bool = True,
    ) -> Turn:
        """Send a message and collect everything until the assistant's turn ends.

        With `expect_reply=False` (a person has the chat), stop at the ack.
        """
        client_id = client_id or f"c-{uuid.uuid4().hex[:12]}"
        frame: dict[str, Any] = {"type": "message", "client_id": client_id, "text": text}
        if payload is not None:
            frame["payload"] = payload
        await self.send_frame(frame)
        return await self.collect_turn(
            client_id=client_id, timeout=timeout, until_ack=not expect_reply
        )

    async def collect_turn(
        self, *, client_id: str, timeout: float = 30, until_ack: bool = False
    ) -> Turn:
        turn = Turn()
        while True:
            frame = await self.receive(timeout=timeout)
            turn.frames.append(frame)
            if frame["type"] == "error":
                return turn
            if frame["type"] == "ack" and frame["client_id"] == client_id:
                turn.ack = frame
                if frame["duplicate"] or until_ack:
                    return turn
            if frame["type"] == "typing" and frame["active"] is False:
                return turn


class Turn:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.ack: Optional[dict[str, Any]] = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "message"]

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.messages)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.messages for b in m["buttons"]]

    @property
    def error(self) -> Optional[dict[str, Any]]:
        return next((f for f in self.frames if f["type"] == "error"), None)
