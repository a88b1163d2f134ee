"""Relays customer messages to the assistant and its replies back.

The order is what makes "nothing is lost" true: the customer message is
stored (and acknowledged) before it goes to Rasa, each reply is stored before
it is sent, and a Rasa failure becomes a stored, polite system message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from api.db import Database
from api.models import ConversationOwner, DeliveryStatus, Message, Sender
from api.services import conversations
from api.services.handoff_desk import QUEUE_PAYLOADS, HandoffDesk
from api.services.hub import ConversationHub, FrameSender
from api.services.rasa_client import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "Sorry, the assistant is unavailable right now. Your message is saved. "
    "Please try again in a few minutes, or leave your contact details and we will "
    "open a ticket for you."
)


class ConversationClosed(Exception):
    pass


def _never_forwarded(message: Message) -> bool:
    """A stored message whose handling stopped before it reached the assistant.

    That happens when a worker dies between storing and forwarding; the resend
    then gets the original handled (once: messages of one conversation are
    handled one at a time, so a message still being handled is never here).
    """
    return message.sender == Sender.customer.value and (
        message.status == DeliveryStatus.received.value
    )


class ChatGateway:
    def __init__(
        self,
        *,
        database: Database,
        rasa: RasaClient,
        hub: ConversationHub,
        desk: Optional[HandoffDesk] = None,
    ) -> None:
        self.database = database
        self.rasa = rasa
        self.hub = hub
        self.desk = desk
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lock_users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def _conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        # One message at a time per conversation keeps replies in order.
        self._lock_users[conversation_id] += 1
        try:
            async with self._locks[conversation_id]:
                yield
        finally:
            self._lock_users[conversation_id] -= 1
            if self._lock_users[conversation_id] == 0:
                del self._lock_users[conversation_id]
                self._locks.pop(conversation_id, None)

    async def handle_customer_message(
        self,
        *,
        conversation_id: str,
        client_id: str,
        text: str,
        payload: Optional[str],
        reply_to: FrameSender,
    ) -> None:
        async with self._conversation_lock(conversation_id):
            async with self.database.connection() as connection:
                stored = await conversations.store_customer_message(
                    connection=connection,
                    conversation_id=conversation_id,
                    client_id=client_id,
                    text=text,
                    payload=payload,
                )
            if stored is None:
                raise ConversationClosed(conversation_id)
            owner = stored.owner
            message_frame = conversations.message_frame(stored.message)
            message_id = stored.message.id
            await reply_to(
                {
                    "type": "ack",
                    "client_id": client_id,
                    "id": message_id,
                    "duplicate": stored.duplicate,
                }
            )
            if stored.duplicate and not _never_forwarded(stored.message):
                return
            if not stored.duplicate:
                # Other open tabs of the same customer show the message too.
                await self.hub.publish(conversation_id, message_frame, exclude=reply_to)
            payload, text = stored.message.payload, stored.message.text
            if owner != ConversationOwner.bot.value:
                # A person has the chat (or will soon): the bot stays silent. Agents
                # see the message through the hub.
                await self._mark(message_id, DeliveryStatus.answered)
                if owner == ConversationOwner.queued.value and self.desk is not None:
                    await self._answer_in_queue(conversation_id, message_id, payload)
                return
            await self._ask_assistant(
                conversation_id=conversation_id,
                message_id=message_id,
                text=payload or text,
            )

    async def _answer_in_queue(
        self, conversation_id: str, message_id: int, payload: Optional[str]
    ) -> None:
        """The queue answers a waiting customer's callback choice itself."""
        assert self.desk is not None
        if payload not in QUEUE_PAYLOADS:
            return  # for the agent, who sees it through the hub
        typing = {"type": "typing", "sender": "bot"}
        await self.hub.publish(conversation_id, {**typing, "active": True})
        try:
            await self.desk.handle_queued_message(conversation_id, payload)
        finally:
            await self.hub.publish(conversation_id, {**typing, "active": False})

    async def _mark(self, message_id: int, status: DeliveryStatus) -> None:
        async with self.database.connection() as connection:
            await conversations.set_delivery_status(
                connection=connection, message_id=message_id, status=status
            )

    async def _ask_assistant(self, *, conversation_id: str, message_id: int, text: str) -> None:
        await self.hub.publish(conversation_id, {"type": "typing", "sender": "bot", "active": True})
        try:
            replies = await self.rasa.send_message(
                sender_id=conversation_id, text=text, metadata={"message_id": message_id}
            )
            status = DeliveryStatus.answered
        except RasaUnavailable as error:
            logger.warning("Assistant unavailable for %s: %s", conversation_id, error)
            replies = None
            status = DeliveryStatus.failed
            if self.desk is not None and await self.desk.presence.online():
                # Nothing the customer can do about it: a person takes over.
                await self._mark(message_id, status)
                notice = await self.desk.request(
                    conversation_id=conversation_id, reason="assistant unavailable"
                )
                await self.desk.tell_customer(
                    conversation_id,
                    "Sorry, the assistant is having a problem. " + notice.text,
                    buttons=notice.buttons,
                )
                await self.hub.publish(
                    conversation_id, {"type": "typing", "sender": "bot", "active": False}
                )
                return
        frames: list[dict[str, Any]] = []
        if replies is None:
            async with self.database.session() as session:
                await conversations.set_delivery_status(
                    connection=await session.connection(), message_id=message_id, status=status
                )
                stored = await conversations.store_outbound_message(
                    session=session,
                    conversation_id=conversation_id,
                    sender=Sender.system,
                    text=UNAVAILABLE_TEXT,
                )
                frames.append(conversations.message_frame(stored))
        else:
            async with self.database.connection() as connection:
                await conversations.set_delivery_status(
                    connection=connection, message_id=message_id, status=status
                )
                stored_replies = await conversations.store_bot_replies(
                    connection=connection,
                    conversation_id=conversation_id,
                    replies=[(reply.text, reply.buttons) for reply in replies],
                )
            frames.extend(conversations.message_frame(stored) for stored in stored_replies)
        for frame in frames:
            await self.hub.publish(conversation_id, frame)
        # The end of the turn: clients may stop showing the typing indicator.
        await self.hub.publish(
            conversation_id, {"type": "typing", "sender": "bot", "active": False}
        )
