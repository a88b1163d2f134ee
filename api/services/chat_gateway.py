"""Relays customer messages to the assistant and its replies back.

The order is what makes "nothing is lost" true: the customer message is
stored before it is acknowledged and before it goes to Rasa, each reply is
stored before it is sent, and a Rasa failure becomes a stored, polite system
message. The ack and the typing indicator go out while Rasa works on the
message, so their cost is not added to the customer's wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from api.db import Database
from api.models import ConversationOwner, DeliveryStatus, Sender
from api.services import conversations
from api.services.handoff_desk import HandoffDesk
from api.services.hub import ConversationHub, FrameSender
from api.services.rasa_client import BotReply, RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "Sorry, the assistant is unavailable right now. Your message is saved. "
    "Please try again in a few minutes, or leave your contact details and we will "
    "open a ticket for you."
)


class ConversationClosed(Exception):
    pass


def _never_forwarded(message: conversations.StoredMessage) -> bool:
    """A stored message whose handling stopped before it reached the assistant.

    That happens when a worker dies between storing and forwarding; the resend
    then gets the original handled (once: messages of one conversation are
    handled one at a time, so a message still being handled is never here).
    """
    return message.sender == Sender.customer.value and (
        message.status == DeliveryStatus.received.value
    )


async def _settle(announced: asyncio.Task[None]) -> None:
    """Waits for the frames sent during a turn; a socket that went away meanwhile is fine.

    Its message is stored and is answered all the same: the customer gets the
    replies from the history on reconnecting.
    """
    try:
        await announced
    except Exception as error:  # noqa: BLE001 - whatever the socket raised
        logger.debug("A customer's socket went away during a turn: %r", error)


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
                    last_in_transaction=True,
                )
            if stored is None:
                raise ConversationClosed(conversation_id)
            message = stored.message
            if stored.duplicate and not _never_forwarded(message):
                await self._acknowledge(conversation_id, stored, reply_to)
                return
            if stored.owner != ConversationOwner.bot.value:
                # A person has the chat (or will soon): the bot stays silent. Agents
                # see the message through the hub.
                await self._acknowledge(conversation_id, stored, reply_to)
                await self._mark(message.id, DeliveryStatus.answered)
                if stored.owner == ConversationOwner.queued.value and self.desk is not None:
                    await self._answer_in_queue(conversation_id, message.id, message.payload)
                return
            await self._ask_assistant(conversation_id, stored, reply_to)

    async def _acknowledge(
        self,
        conversation_id: str,
        stored: conversations.StoredCustomerMessage,
        reply_to: FrameSender,
    ) -> None:
        """The ack to the sending socket, and a new message to the conversation's other tabs."""
        await reply_to(
            {
                "type": "ack",
                "client_id": stored.message.client_id,
                "id": stored.message.id,
                "duplicate": stored.duplicate,
            }
        )
        if not stored.duplicate:
            frame = conversations.message_frame(stored.message)
            await self.hub.publish(conversation_id, frame, exclude=reply_to)

    async def _announce(
        self,
        conversation_id: str,
        stored: conversations.StoredCustomerMessage,
        reply_to: FrameSender,
    ) -> None:
        """The ack, then the typing indicator: the customer's side of a turn's start."""
        await self._acknowledge(conversation_id, stored, reply_to)
        await self.hub.publish(conversation_id, {"type": "typing", "sender": "bot", "active": True})

    async def _answer_in_queue(
        self, conversation_id: str, message_id: int, payload: Optional[str]
    ) -> None:
        """The queue answers a waiting customer: their callback choice, or where they are
        in the queue (the message itself is for the agent, who sees it through the hub)."""
        assert self.desk is not None
        typing = {"type": "typing", "sender": "bot"}
        await self.hub.publish(conversation_id, {**typing, "active": True})
        try:
            if not await self.desk.handle_queued_message(conversation_id, payload):
                await self.desk.answer_waiting_customer(conversation_id)
        finally:
            await self.hub.publish(conversation_id, {**typing, "active": False})

    async def _mark(self, message_id: int, status: DeliveryStatus) -> None:
        async with self.database.connection() as connection:
            await conversations.set_delivery_status(
                connection=connection, message_id=message_id, status=status
            )

    async def _ask_assistant(
        self,
        conversation_id: str,
        stored: conversations.StoredCustomerMessage,
        reply_to: FrameSender,
    ) -> None:
        # The message is stored: it goes to the assistant first, and the ack and the
        # typing indicator go out while the assistant works on it, not before.
        message_id, text = stored.message.id, stored.message.payload or stored.message.text
        announced = asyncio.create_task(self._announce(conversation_id, stored, reply_to))
        try:
            replies: Optional[list[BotReply]] = await self.rasa.send_message(
                sender_id=conversation_id, text=text, metadata={"message_id": message_id}
            )
        except RasaUnavailable as error:
            logger.warning("Assistant unavailable for %s: %s", conversation_id, error)
            replies = None
        finally:
            await _settle(announced)
        status = DeliveryStatus.failed if replies is None else DeliveryStatus.answered
        if replies is None and self.desk is not None and await self.desk.presence.online():
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
                    last_in_transaction=True,
                )
            frames.extend(conversations.message_frame(stored) for stored in stored_replies)
        for frame in frames:
            await self.hub.publish(conversation_id, frame)
        # The end of the turn: clients may stop showing the typing indicator.
        await self.hub.publish(
            conversation_id, {"type": "typing", "sender": "bot", "active": False}
        )
