"""`/ws/chat`: the customer widget's websocket (protocol in docs/protocol.md)."""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from typing import Any, Optional

import yaml
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from api.config import PROJECT_ROOT, Settings
from api.deps import ServicesDep
from api.routes.frames import (
    INT64_MAX,
    INT64_MIN,
    FrameError,
    FrameTooLarge,
    error_frame,
    receive_frame,
    visible,
)
from api.services import conversations
from api.services.chat_gateway import ChatGateway, ConversationClosed
from api.services.handoff_desk import QUEUE_PAYLOADS, HandoffDesk
from api.services.hub import ConversationHub
from api.services.limits import Limits, Refused
from api.wiring import Services
from bot.language import from_hint

logger = logging.getLogger(__name__)
router = APIRouter()

# Used with fullmatch: `$` would also match before a final newline.
CLIENT_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
PAYLOAD = re.compile(r"/(?P<intent>[A-Za-z_]{1,64})(\{.{0,400}\})?")


@lru_cache
def button_intents() -> frozenset[str]:
    """The intents a button payload may name: the assistant's (domain.yml) and the queue's.

    Rasa's own intents (`/restart`, `/session_start`, `/back`) are not among them:
    they would reset or rewind the dialogue without an answer.
    """
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    return frozenset(intents | {p.lstrip("/") for p in QUEUE_PAYLOADS})


def valid_client_id(client_id: Any) -> bool:
    return isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id) is not None


def valid_payload(payload: Any) -> bool:
    if not isinstance(payload, str):
        return False
    match = PAYLOAD.fullmatch(payload)
    return match is not None and match["intent"] in button_intents()


def origin_allowed(origin: Optional[str], settings: Settings) -> bool:
    # Browsers always send Origin; scripts and tests may not, and cannot be
    # tricked into riding a customer's session, so they are let through.
    if origin is None:
        return True
    return origin.rstrip("/") in settings.origins


class ChatSocket:
    """One customer socket: parses frames, enforces limits, calls the gateway."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.websocket = websocket
        self.services = services
        self.settings: Settings = services.settings
        self.gateway: ChatGateway = services.gateway
        self.hub: ConversationHub = services.hub
        self.desk: HandoffDesk = services.desk
        self.limits: Limits = services.limits
        client = websocket.client
        self.address = client.host if client is not None else "unknown"
        self.conversation_id: Optional[str] = None

    async def send(self, frame: dict[str, Any]) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            await self.websocket.send_text(json.dumps(frame))

    async def run(self) -> None:
        try:
            while True:
                try:
                    frame = await receive_frame(self.websocket, self.settings.max_frame_bytes)
                    await self.handle(frame)
                except FrameTooLarge as error:
                    await self.send(error_frame(error.code, error.detail))
                    await self.websocket.close(code=error.CLOSE_CODE)
                    return
                except FrameError as error:
                    await self.send(
                        error_frame(error.code, error.detail, error.client_id, error.retry_after)
                    )
        except WebSocketDisconnect:
            pass
        finally:
            if self.conversation_id is not None:
                self.hub.unsubscribe(self.conversation_id, self.send)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "hello":
            await self.hello(frame)
        elif kind == "message":
            await self.message(frame)
        elif kind == "typing":
            await self.typing(frame)
        elif kind == "rating":
            await self.rating(frame)
        else:
            raise FrameError("unknown_type", f"Unknown frame type: {str(kind)[:40]!r}.")

    async def hello(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is not None:
            raise FrameError("already_started", "This socket already has a conversation.")
        token = frame.get("session_token")
        after_id = frame.get("after_id")
        if after_id is not None and (
            not isinstance(after_id, int)
            or isinstance(after_id, bool)
            or not INT64_MIN <= after_id <= INT64_MAX
        ):
            raise FrameError("invalid_message", "after_id must be a message id (an integer).")
        hint = frame.get("language")
        if hint is not None and (not isinstance(hint, str) or len(hint) > 35):
            raise FrameError(
                "invalid_message", 'language must be a language tag such as "de" or "en-GB".'
            )
        if token is None:
            refused = await self.limits.new_conversation(address=self.address)
            await self._refuse_over(refused, language=from_hint(hint))
        async with self.services.database.session() as session:
            if token is None:
                created = await conversations.start_conversation(
                    session=session, language_hint=hint
                )
                conversation, token, resumed = created.conversation, created.session_token, False
            else:
                if not isinstance(token, str):
                    raise FrameError("invalid_session", "The session token is not valid.")
                found = await conversations.find_by_token(session=session, token=token)
                if found is None:
                    raise FrameError(
                        "invalid_session",
                        "This session is unknown or has expired. Start a new one by sending "
                        "hello without a session_token.",
                    )
                conversation, resumed = found, True
            history = await conversations.history(
                session=session, conversation_id=conversation.id, after_id=after_id
            )
            welcome = {
                "type": "welcome",
                "session_token": token,
                "conversation_id": conversation.id,
                "owner": conversation.owner,
                "language": conversation.language,
                "resumed": resumed,
                "history": [conversations.message_frame(m) for m in history],
            }
        self.conversation_id = conversation.id
        self.hub.subscribe(conversation.id, self.send)
        await self.send(welcome)
        if resumed:
            # A message left unanswered by a crash is answered now, to this socket too.
            self.services.recovery.answer_soon(conversation.id)

    async def message(self, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id")
        if not valid_client_id(client_id):
            raise FrameError(
                "invalid_message", "client_id must be 1-64 characters of A-Z a-z 0-9 - _ ."
            )
        if self.conversation_id is None:
            raise FrameError("hello_required", "Send hello first.", client_id)
        text = frame.get("text")
        if not isinstance(text, str) or not visible(text):
            raise FrameError(
                "invalid_message", "text must be a string with a visible character.", client_id
            )
        text = text.strip()
        if len(text) > self.settings.max_message_chars:
            raise FrameError(
                "message_too_large",
                f"A message may be at most {self.settings.max_message_chars} characters.",
                client_id,
            )
        payload = frame.get("payload")
        if payload is not None and not valid_payload(payload):
            raise FrameError(
                "invalid_message",
                "payload is not one of the assistant's button payloads.",
                client_id,
            )
        await self._check_rate(client_id)
        try:
            await self.gateway.handle_customer_message(
                conversation_id=self.conversation_id,
                client_id=client_id,
                text=text,
                payload=payload,
                reply_to=self.send,
            )
        except ConversationClosed:
            raise FrameError(
                "conversation_closed",
                "This conversation is closed. Start a new one by sending hello without a "
                "session_token.",
                client_id,
            ) from None

    async def typing(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is None:
            raise FrameError("hello_required", "Send hello first.")
        await self.desk.customer_typing(
            conversation_id=self.conversation_id, active=bool(frame.get("active"))
        )

    async def rating(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is None:
            raise FrameError("hello_required", "Send hello first.")
        score, comment = frame.get("score"), frame.get("comment", "")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise FrameError("invalid_message", "score must be a whole number from 1 to 5.")
        if not isinstance(comment, str) or len(comment) > 2000:
            raise FrameError("invalid_message", "comment must be text of at most 2000 characters.")
        await self._check_rate(None)
        await self.desk.record_rating(
            conversation_id=self.conversation_id, score=score, comment=comment.strip()
        )
        await self.send({"type": "rating_saved", "score": score})

    async def _check_rate(self, client_id: Optional[str]) -> None:
        assert self.conversation_id is not None
        refused = await self.limits.message(
            conversation_id=self.conversation_id, address=self.address
        )
        if refused is not None:
            # Rare, so the conversation's language (the customer may have switched) is
            # read only now.
            _, language = await self.services.conversations.owner_and_language(self.conversation_id)
            await self._refuse_over(refused, language, client_id)

    @staticmethod
    async def _refuse_over(
        refused: Optional[Refused], language: str, client_id: Optional[str] = None
    ) -> None:
        """A `rate_limited` error, in the customer's language, when over a limit."""
        if refused is not None:
            raise FrameError(
                "rate_limited",
                refused.reason(language),
                client_id,
                retry_after=refused.retry_after,
            )


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket, services: ServicesDep) -> None:
    settings = services.settings
    if not origin_allowed(websocket.headers.get("origin"), settings):
        await websocket.close(code=1008)  # refused before accept: HTTP 403
        return
    await websocket.accept()
    await ChatSocket(websocket, services).run()
