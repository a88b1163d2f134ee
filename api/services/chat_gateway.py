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
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Optional

from api.db import Database
from api.models import ConversationOwner, DeliveryStatus, Sender
from api.models.base import utcnow
from api.services import conversations
from api.services.handoff_desk import QUEUE_PAYLOADS, HandoffDesk
from api.services.hub import ConversationHub, FrameSender
from api.services.rasa_client import BotReply, RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "Sorry, the assistant is unavailable right now. Your message is saved. "
    "Please try again in a few minutes, or leave your contact details and we will "
    "open a ticket for you."
)


# For a message left unanswered by a crash and found only after
# UNANSWERED_MAX_AGE_SECONDS: its answer would no longer fit the conversation.
TOO_LATE_TEXT = (
    "Sorry, we could not answer your earlier message because of a technical problem, "
    "and it is too late to answer it now. Please send it again if you still need help."
)


class ConversationClosed(Exception):
    pass


def _never_answered(message: conversations.StoredMessage) -> bool:
    """A stored customer message whose answer has not been stored (yet)."""
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
        lease_seconds: float = 30.0,
        max_age_seconds: float = 900.0,
    ) -> None:
        self.database = database
        self.rasa = rasa
        self.hub = hub
        self.desk = desk
        # How long this worker has to answer a message it stored before another
        # worker may take it over (ANSWER_LEASE_SECONDS), and how old an
        # unanswered message may be to still get an answer (UNANSWERED_MAX_AGE_SECONDS).
        self.lease_seconds = lease_seconds
        self.max_age_seconds = max_age_seconds
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
                    lease_seconds=self.lease_seconds,
                    last_in_transaction=True,
                )
            if stored is None:
                raise ConversationClosed(conversation_id)
            message = stored.message
            if stored.duplicate and not (
                _never_answered(message) and await self._take_over(message.id)
            ):
                # Answered, or being answered by a worker whose lease still runs:
                # the replies reach this socket through the hub.
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
            announce = self._announce(conversation_id, stored, reply_to)
            await self._ask_assistant(conversation_id, message, announce)

    async def _take_over(self, message_id: int) -> bool:
        """Takes a message whose worker died before answering it (its lease ran out)."""
        now = utcnow()
        async with self.database.connection() as connection:
            return await conversations.take_over(
                connection=connection,
                message_id=message_id,
                now=now,
                lease_until=now + timedelta(seconds=self.lease_seconds),
            )

    async def answer_unanswered(self, message: conversations.StoredMessage) -> bool:
        """Answers a customer message that a worker stored and then died before answering.

        Exactly once: the message is taken over first, and of several workers
        trying only one gets it. If Rasa already handled it before the crash
        (its tracker has the message), its replies then are stored and sent;
        otherwise the message goes to Rasa now. A person's chat only marks it,
        and a message older than `max_age_seconds` gets `TOO_LATE_TEXT`.
        True if this worker answered it; False if it was not to be had, or if
        Rasa could not be asked (it is tried again once the lease runs out).
        """
        conversation_id = message.conversation_id
        if not await self._take_over(message.id):
            return False
        async with self._conversation_lock(conversation_id):
            async with self.database.connection() as connection:
                owner = await conversations.conversation_owner(
                    connection=connection, conversation_id=conversation_id
                )
            if owner != ConversationOwner.bot.value:
                # A person has the chat (and saw the message) or it was closed.
                await self._mark(message.id, DeliveryStatus.answered)
                return True
            age = (utcnow() - message.created_at).total_seconds()
            if age > self.max_age_seconds:
                logger.info("Message %s is %.0f s old: the customer is told.", message.id, age)
                await self._answer_with_system_message(conversation_id, message.id, TOO_LATE_TEXT)
                return True
            try:
                earlier = await self.rasa.replies_to(
                    sender_id=conversation_id, message_id=message.id
                )
            except RasaUnavailable as error:
                logger.info("Message %s waits for the assistant: %s", message.id, error)
                return False
            logger.info("Answering message %s of %s after a restart.", message.id, conversation_id)
            typing = self.hub.publish(
                conversation_id, {"type": "typing", "sender": "bot", "active": True}
            )
            if earlier is not None:
                await typing
                await self._store_and_send_replies(conversation_id, message.id, earlier)
            else:
                await self._ask_assistant(conversation_id, message, typing)
            return True

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

    async def _ask_assistant(
        self,
        conversation_id: str,
        message: conversations.StoredMessage,
        announce: Awaitable[None],
    ) -> None:
        # The message is stored: it goes to the assistant first, and the ack and the
        # typing indicator (`announce`) go out while the assistant works on it, not before.
        message_id, text = message.id, message.payload or message.text
        announced = asyncio.ensure_future(announce)
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
        if replies is None:
            await self._answer_with_system_message(conversation_id, message_id, UNAVAILABLE_TEXT)
        else:
            await self._store_and_send_replies(conversation_id, message_id, replies)

    async def _answer_with_system_message(
        self, conversation_id: str, message_id: int, text: str
    ) -> None:
        """The message failed: a stored system message says so, and the turn ends."""
        async with self.database.session() as session:
            await conversations.set_delivery_status(
                connection=await session.connection(),
                message_id=message_id,
                status=DeliveryStatus.failed,
            )
            stored = await conversations.store_outbound_message(
                session=session, conversation_id=conversation_id, sender=Sender.system, text=text
            )
            frame = conversations.message_frame(stored)
        await self._send_turn(conversation_id, [frame])

    async def _store_and_send_replies(
        self, conversation_id: str, message_id: int, replies: list[BotReply]
    ) -> None:
        async with self.database.connection() as connection:
            await conversations.set_delivery_status(
                connection=connection, message_id=message_id, status=DeliveryStatus.answered
            )
            stored_replies = await conversations.store_bot_replies(
                connection=connection,
                conversation_id=conversation_id,
                replies=[(reply.text, reply.buttons) for reply in replies],
                last_in_transaction=True,
            )
        await self._send_turn(
            conversation_id, [conversations.message_frame(stored) for stored in stored_replies]
        )

    async def _send_turn(self, conversation_id: str, frames: list[dict[str, Any]]) -> None:
        for frame in frames:
            await self.hub.publish(conversation_id, frame)
        # The end of the turn: clients may stop showing the typing indicator.
        await self.hub.publish(
            conversation_id, {"type": "typing", "sender": "bot", "active": False}
        )
