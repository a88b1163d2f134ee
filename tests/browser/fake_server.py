"""A small in-memory stand-in for the chat gateway, speaking docs/protocol.md.

It serves the widget like the real API does (``/`` and ``/widget/…``) and adds
test controls under ``/_test/`` (push a server message, drop every socket), so
the widget's rendering and resilience can be checked quickly and
deterministically. The end-to-end tests run against the real stack instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"


@dataclass
class Conversation:
    id: str
    owner: str = "bot"
    messages: list[dict] = field(default_factory=list)
    by_client_id: dict[str, int] = field(default_factory=dict)
    sockets: set = field(default_factory=set)


class FakeGateway:
    """Conversation state plus the FastAPI app that serves it."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}  # token hash -> conversation
        self.ids = itertools.count(1)
        self.ratings: list[dict] = []
        self.customer_typing: list[dict] = []
        self.received: list[dict] = []  # every customer message frame, resends included
        self.hellos: list[dict] = []  # every hello frame
        self.reply_delay = 0.15
        self.embed_page = "<!doctype html><title>empty</title>"  # served at /_test/page
        self.refuse = False  # refuse new sockets, as a gateway that is down would
        self.drop_before_ack = False  # store the next message, then lose the socket before the ack
        self.app = self._build()

    def _now(self) -> str:
        return datetime.now(timezone.utc).isoformat()

    def _store(self, conv: Conversation, **msg) -> dict:
        frame = {
            "type": "message",
            "id": next(self.ids),
            "buttons": [],
            "created_at": self._now(),
            **msg,
        }
        conv.messages.append(frame)
        return frame

    async def _broadcast(self, conv: Conversation, frame: dict) -> None:
        for ws in list(conv.sockets):
            try:
                await ws.send_json(frame)
            except Exception:  # a socket closing concurrently is not an error here
                conv.sockets.discard(ws)

    async def _reply(self, conv: Conversation, text: str, payload: str | None) -> None:
        await self._broadcast(conv, {"type": "typing", "sender": "bot", "active": True})
        await asyncio.sleep(self.reply_delay)
        if payload == "/request_human":
            conv.owner = "queued"
            reply = self._store(
                conv,
                sender="system",
                text="I'm connecting you to a person. Please stay in this chat.",
            )
        elif "internet" in text.lower():
            reply = self._store(
                conv,
                sender="bot",
                text="Sorry to hear that. **Let's check your router.** What do the lights show?",
                buttons=[
                    {"title": "Green", "payload": '/inform{"choice":"green"}'},
                    {"title": "Blinking orange", "payload": '/inform{"choice":"orange"}'},
                    {"title": "No lights", "payload": '/inform{"choice":"off"}'},
                ],
            )
        else:
            reply = self._store(conv, sender="bot", text=f"Noted: {text}")
        await self._broadcast(conv, {"type": "typing", "sender": "bot", "active": False})
        await self._broadcast(conv, reply)

    def _build(self) -> FastAPI:
        app = FastAPI()
        app.mount("/widget", StaticFiles(directory=WIDGET_DIR), name="widget")

        @app.get("/")
        async def index() -> FileResponse:
            return FileResponse(WIDGET_DIR / "index.html")

        @app.post("/_test/push")
        async def push(frame: dict) -> dict:
            for conv in self.conversations.values():
                if frame.get("type", "message") == "message":
                    msg = self._store(conv, **{k: v for k, v in frame.items() if k != "type"})
                    await self._broadcast(conv, msg)
                else:
                    if frame["type"] == "owner":
                        conv.owner = frame["owner"]
                    await self._broadcast(conv, frame)
            return {"ok": True}

        @app.get("/_test/page")
        async def embed_page() -> HTMLResponse:
            return HTMLResponse(self.embed_page)

        @app.post("/_test/set")
        async def set_flags(flags: dict) -> dict:
            for name in ("refuse", "drop_before_ack", "reply_delay"):
                if name in flags:
                    setattr(self, name, flags[name])
            return {"ok": True}

        @app.post("/_test/close")
        async def close_all() -> dict:
            for conv in self.conversations.values():
                conv.owner = "closed"
                await self._broadcast(conv, {"type": "owner", "owner": "closed"})
            return {"ok": True}

        @app.post("/_test/drop")
        async def drop() -> dict:
            for conv in self.conversations.values():
                for ws in list(conv.sockets):
                    await ws.close(code=1012)
                conv.sockets.clear()
            return {"ok": True}

        @app.websocket("/ws/chat")
        async def chat(ws: WebSocket) -> None:
            if self.refuse:
                await ws.close(code=1013)
                return
            await ws.accept()
            conv: Conversation | None = None
            try:
                while True:
                    frame = await ws.receive_json()
                    kind = frame.get("type")
                    if kind == "ping":
                        await ws.send_json({"type": "pong"})
                    elif kind == "hello":
                        self.hellos.append(frame)
                        token = frame.get("session_token")
                        resumed = bool(token)
                        if token:
                            conv = self.conversations.get(
                                hashlib.sha256(token.encode()).hexdigest()
                            )
                            if conv is None:
                                await ws.send_json(
                                    {
                                        "type": "error",
                                        "code": "invalid_session",
                                        "detail": "Unknown session.",
                                    }
                                )
                                continue
                        else:
                            token = secrets.token_urlsafe(32)
                            conv = Conversation(id=secrets.token_hex(8))
                            self.conversations[hashlib.sha256(token.encode()).hexdigest()] = conv
                        conv.sockets.add(ws)
                        after = frame.get("after_id") or 0
                        await ws.send_json(
                            {
                                "type": "welcome",
                                "session_token": token,
                                "conversation_id": conv.id,
                                "owner": conv.owner,
                                "resumed": resumed,
                                "history": [m for m in conv.messages if m["id"] > after],
                            }
                        )
                    elif kind == "message":
                        if conv is None:
                            await ws.send_json(
                                {
                                    "type": "error",
                                    "code": "hello_required",
                                    "detail": "Say hello first.",
                                }
                            )
                            continue
                        self.received.append(frame)
                        if conv.owner == "closed":
                            await ws.send_json(
                                {
                                    "type": "error",
                                    "code": "conversation_closed",
                                    "detail": "This conversation is closed.",
                                    "client_id": frame.get("client_id"),
                                }
                            )
                            continue
                        cid, text = frame.get("client_id"), str(frame.get("text", "")).strip()
                        if cid in conv.by_client_id:
                            await ws.send_json(
                                {
                                    "type": "ack",
                                    "client_id": cid,
                                    "id": conv.by_client_id[cid],
                                    "duplicate": True,
                                }
                            )
                            continue
                        msg = self._store(conv, sender="customer", text=text, client_id=cid)
                        conv.by_client_id[cid] = msg["id"]
                        if self.drop_before_ack:
                            self.drop_before_ack = False
                            await ws.close(code=1012)
                            return
                        await ws.send_json(
                            {"type": "ack", "client_id": cid, "id": msg["id"], "duplicate": False}
                        )
                        if conv.owner == "bot":
                            asyncio.create_task(self._reply(conv, text, frame.get("payload")))
                    elif kind == "rating":
                        score = frame.get("score")
                        if not isinstance(score, int) or not 1 <= score <= 5:
                            await ws.send_json(
                                {"type": "error", "code": "invalid_message", "detail": "Bad score."}
                            )
                            continue
                        self.ratings.append(frame)
                        await ws.send_json({"type": "rating_saved", "score": score})
                    elif kind == "typing":
                        self.customer_typing.append(frame)
                    else:
                        await ws.send_json(
                            {
                                "type": "error",
                                "code": "unknown_type",
                                "detail": "Unknown frame type.",
                            }
                        )
            except WebSocketDisconnect:
                pass
            finally:
                if conv is not None:
                    conv.sockets.discard(ws)

        return app


class FakeServer:
    """Runs a FakeGateway with uvicorn in a background thread."""

    def __init__(self, port: int = 0) -> None:
        self.gateway = FakeGateway()
        self.config = uvicorn.Config(
            self.gateway.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws_ping_interval=None,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> FakeServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake gateway did not start")
            time.sleep(0.05)
        sock = self.server.servers[0].sockets[0]
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


if __name__ == "__main__":  # manual preview: python -m tests.browser.fake_server
    srv = FakeServer(port=8765).start()
    print(f"Widget demo at {srv.base_url}/")
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()
