"""`/ws/agent`: the agent console's live connection (protocol in docs/console.md).

Signed in by the session cookie (never a token in the URL). It pushes the
queue and the chats the agent has open, and takes the agent's messages and
typing state.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Optional

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from api.deps import SESSION_COOKIE, ServicesDep
from api.models import Agent, Conversation
from api.routes.chat import origin_allowed, valid_client_id
from api.routes.frames import FrameError, FrameTooLarge, error_frame, receive_frame, visible
from api.services import access, agents, handoffs
from api.services.handoff_desk import QUEUE_CHANNEL, HandoffDesk, staff_channel
from api.services.hub import ConversationHub, FrameSender
from api.services.presence import ConsoleConnection
from api.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter()
MAX_AGENT_MESSAGE_CHARS = 4000


def agent_frame_limit(max_frame_bytes: int) -> int:
    """Agents may write longer messages than customers: twice the customer's frame limit."""
    return 2 * max_frame_bytes


class AgentSocket:
    def __init__(self, websocket: WebSocket, services: Services, agent: Agent, token: str) -> None:
        self.websocket = websocket
        self.services = services
        self.token = token
        self.staff = handoffs.staff_for(agent)
        self.desk: HandoffDesk = services.desk
        self.hub: ConversationHub = services.hub
        self.database = services.database
        self.max_frame_bytes = agent_frame_limit(services.settings.max_frame_bytes)
        self.watching: dict[str, tuple[FrameSender, FrameSender]] = {}
        # Queue changes arrive concurrently (customers, agents, this connection's
        # hello): one snapshot at a time, so an older one never arrives last.
        self.queue_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            await self.websocket.send_text(json.dumps(frame, default=str))

    async def close(self) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            await self.send({"type": "signed_out"})
            await self.websocket.close(code=4401)

    async def queue_update(self, frame: dict[str, Any]) -> None:
        await self.send_queue()

    async def send_queue(self) -> None:
        async with self.queue_lock:
            await self._send_queue()

    async def _send_queue(self) -> None:
        async with self.database.session() as session:
            online = await self.services.presence.online()
            waiting = await handoffs.waiting_for(session=session, staff=self.staff, online=online)
            mine = await handoffs.active_for(session=session, agent_id=self.staff.id or 0)
            titles = await handoffs.queue_titles(
                session=session, conversation_ids=[h.conversation_id for h in waiting + mine]
            )
            frame = {
                "type": "queue",
                "waiting": [handoff_frame(h, titles.get(h.conversation_id, "")) for h in waiting],
                "mine": [handoff_frame(h, titles.get(h.conversation_id, "")) for h in mine],
            }
        for handoff in mine:
            self.watch(handoff.conversation_id)
        await self.send(frame)

    def watch(self, conversation_id: str) -> None:
        if conversation_id in self.watching:
            return

        async def public(frame: dict[str, Any]) -> None:
            await self.send({**frame, "conversation_id": conversation_id})

        async def private(frame: dict[str, Any]) -> None:
            await self.send({**frame, "conversation_id": conversation_id})

        self.hub.subscribe(conversation_id, public)
        self.hub.subscribe(staff_channel(conversation_id), private)
        self.watching[conversation_id] = (public, private)

    def unwatch_all(self) -> None:
        for conversation_id, (public, private) in self.watching.items():
            self.hub.unsubscribe(conversation_id, public)
            self.hub.unsubscribe(staff_channel(conversation_id), private)
        self.watching.clear()

    async def still_signed_in(self) -> bool:
        async with self.database.session() as session:
            return await agents.agent_for_token(session=session, token=self.token) is not None

    async def run(self) -> None:
        presence = self.services.presence
        connection = ConsoleConnection(staff=self.staff, close=self.close)
        presence.join(connection)
        self.hub.subscribe(QUEUE_CHANNEL, self.queue_update)
        try:
            await self.send(
                {
                    "type": "hello",
                    "agent": {
                        "id": self.staff.id,
                        "name": self.staff.name,
                        "role": self.staff.role,
                        "tier": self.staff.tier,
                        "skills": list(self.staff.skills),
                        "languages": list(self.staff.languages),
                    },
                }
            )
            await self.send_queue()
            await self.desk.queue_changed()  # others see the new agent's capacity
            while True:
                try:
                    frame = await receive_frame(self.websocket, self.max_frame_bytes)
                except FrameTooLarge as error:
                    await self.send(error_frame(error.code, error.detail))
                    await self.websocket.close(code=error.CLOSE_CODE)
                    return
                except FrameError as error:
                    frame = error
                if not await self.still_signed_in():
                    await self.close()
                    return
                if isinstance(frame, FrameError):
                    await self.send(error_frame(frame.code, frame.detail, frame.client_id))
                    continue
                error = await self.handle(frame)
                if error is not None:
                    await self.send(error)
        except WebSocketDisconnect:
            pass
        finally:
            presence.leave(connection)
            self.hub.unsubscribe(QUEUE_CHANNEL, self.queue_update)
            self.unwatch_all()
            # Chats this agent's languages kept from others are offered to them again.
            try:
                await self.desk.queue_changed()
            except Exception:  # noqa: BLE001 - the app may be shutting down
                logger.debug("Could not announce that an agent left", exc_info=True)

    async def handle(self, frame: dict[str, Any]) -> Optional[dict[str, Any]]:
        kind = frame.get("type")
        if kind == "ping":
            await self.send({"type": "pong"})
            return None
        conversation_id = frame.get("conversation_id")
        if kind not in ("open", "message", "typing"):
            return error_frame("unknown_type", f"Unknown frame type: {str(kind)[:40]!r}.")
        if not isinstance(conversation_id, str) or not await self.may_read(conversation_id):
            return error_frame("unknown_conversation", "There is no such conversation for you.")
        if kind == "open":
            self.watch(conversation_id)
            await self.send({"type": "opened", "conversation_id": conversation_id})
            return None
        if kind == "typing":
            await self.desk.agent_typing(
                conversation_id=conversation_id, staff=self.staff, active=bool(frame.get("active"))
            )
            return None
        client_id, text = frame.get("client_id"), frame.get("text")
        if not valid_client_id(client_id):
            return error_frame("invalid_message", "client_id must be 1-64 of A-Z a-z 0-9 - _ .")
        if not isinstance(text, str) or not visible(text):
            return error_frame(
                "invalid_message", "text must be a string with a visible character.", client_id
            )
        if len(text) > MAX_AGENT_MESSAGE_CHARS:
            return error_frame("message_too_large", "The message is too long.", client_id)
        try:
            stored = await self.desk.send_agent_message(
                conversation_id=conversation_id,
                staff=self.staff,
                client_id=client_id,
                text=text.strip(),
            )
        except handoffs.HandoffError as failure:
            return error_frame("not_allowed", failure.detail, client_id)
        await self.send(
            {
                "type": "ack",
                "client_id": client_id,
                "id": stored["id"],
                "conversation_id": conversation_id,
            }
        )
        return None

    async def may_read(self, conversation_id: str) -> bool:
        if len(conversation_id) != 32:
            return False
        async with self.database.session() as session:
            if await session.get(Conversation, conversation_id) is None:
                return False
            return await access.may_read_conversation(
                session=session, staff=self.staff, conversation_id=conversation_id
            )


def handoff_frame(handoff: Any, title: str = "") -> dict[str, Any]:
    """A chat in the console's lists; `title` names it (handoffs.queue_titles)."""
    return {
        "title": title,
        "id": handoff.id,
        "conversation_id": handoff.conversation_id,
        "status": handoff.status,
        "reason": handoff.reason,
        "tier": handoff.tier,
        "skill": handoff.skill,
        "priority": handoff.priority,
        "summary": handoff.summary,
        "language": handoff.language,
        "agent_id": handoff.agent_id,
        "waiting_since": handoff.waiting_since.isoformat(),
    }


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket, services: ServicesDep) -> None:
    settings = services.settings
    if not origin_allowed(websocket.headers.get("origin"), settings):
        await websocket.close(code=1008)
        return
    token = websocket.cookies.get(SESSION_COOKIE) or ""
    async with services.database.session() as session:
        agent = await agents.agent_for_token(session=session, token=token)
    if agent is None or not handoffs.staff_for(agent).sees_customers:
        # Before accept: HTTP 403. Sign in first; trainers have no customer chats.
        await websocket.close(code=1008)
        return
    await websocket.accept()
    await AgentSocket(websocket, services, agent, token).run()
