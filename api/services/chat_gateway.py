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
from typing import Optional

from api.models import ConversationOwner, DeliveryStatus, Sender
from api.services import conversations
from api.services.conversations import ConversationStore
from api.services.handoff_desk import HandoffDesk, staff_channel
from api.services.hub import ConversationHub, FrameSender
from api.services.rasa_client import BotReply, RasaClient, RasaUnavailable
from bot import language as languages
from bot.wording import say

logger = logging.getLogger(__name__)


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
        conversations: ConversationStore,
        rasa: RasaClient,
        hub: ConversationHub,
        desk: Optional[HandoffDesk] = None,
    ) -> None:
        self.conversations = conversations
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
            stored = await self.conversations.store_customer_message(
                conversation_id=conversation_id, client_id=client_id, text=text, payload=payload
            )
            if stored is None:
                raise ConversationClosed(conversation_id)
            message = stored.message
            if stored.duplicate and not _never_forwarded(message):
                await self._acknowledge(conversation_id, stored, reply_to)
                return
            language = await self._follow_language(conversation_id, stored)
            if stored.owner != ConversationOwner.bot.value:
                # A person has the chat (or will soon): the bot stays silent. Agents
                # see the message through the hub.
                await self._acknowledge(conversation_id, stored, reply_to)
                await self.conversations.set_status(message.id, DeliveryStatus.answered)
                if stored.owner == ConversationOwner.queued.value and self.desk is not None:
                    await self._answer_in_queue(conversation_id, message.payload, language)
                return
            await self._ask_assistant(conversation_id, stored, reply_to, language)

    async def _follow_language(
        self, conversation_id: str, stored: conversations.StoredCustomerMessage
    ) -> str:
        """The conversation's language after this message, stored when the customer switched.

        A button's text is the assistant's wording, not the customer's, so it
        never changes the language. Agents watching the chat hear of a switch.
        """
        message = stored.message
        if message.payload is not None:
            return stored.language
        now = languages.follow(stored.language, message.text)
        if now != stored.language:
            await self.conversations.set_language(conversation_id, now)
            await self.hub.publish(
                staff_channel(conversation_id), {"type": "language", "language": now}
            )
            if stored.owner == ConversationOwner.queued.value and self.desk is not None:
                await self.desk.queue_changed()  # queue entries show the language
        return now

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
        self, conversation_id: str, payload: Optional[str], language: str
    ) -> None:
        """The queue answers a waiting customer: their callback choice, or where they are
        in the queue (the message itself is for the agent, who sees it through the hub)."""
        assert self.desk is not None
        typing = {"type": "typing", "sender": "bot"}
        await self.hub.publish(conversation_id, {**typing, "active": True})
        try:
            if not await self.desk.handle_queued_message(conversation_id, payload, language):
                await self.desk.answer_waiting_customer(conversation_id, language)
        finally:
            await self.hub.publish(conversation_id, {**typing, "active": False})

    async def _ask_assistant(
        self,
        conversation_id: str,
        stored: conversations.StoredCustomerMessage,
        reply_to: FrameSender,
        language: str,
    ) -> None:
        # The message is stored: it goes to the assistant first, and the ack and the
        # typing indicator go out while the assistant works on it, not before.
        message_id, text = stored.message.id, stored.message.payload or stored.message.text
        announced = asyncio.create_task(self._announce(conversation_id, stored, reply_to))
        try:
            replies: Optional[list[BotReply]] = await self.rasa.send_message(
                sender_id=conversation_id,
                text=text,
                metadata={"message_id": message_id, "language": language},
            )
        except RasaUnavailable as error:
            logger.warning("Assistant unavailable for %s: %s", conversation_id, error)
            replies = None
        finally:
            await _settle(announced)
        if replies is None and self.desk is not None and await self.desk.presence.online():
            # Nothing the customer can do about it: a person takes over.
            await self.conversations.set_status(message_id, DeliveryStatus.failed)
            notice = await self.desk.request(
                conversation_id=conversation_id, reason="assistant unavailable", language=language
            )
            await self.desk.tell_customer(
                conversation_id,
                say("system.assistant_problem", language, notice=notice.text),
                buttons=notice.buttons,
            )
            await self.hub.publish(
                conversation_id, {"type": "typing", "sender": "bot", "active": False}
            )
            return
        if replies is None:
            notice = await self.conversations.fail(
                conversation_id=conversation_id,
                message_id=message_id,
                notice=say("system.unavailable", language),
            )
            frames = [conversations.message_frame(notice)]
        else:
            stored_replies = await self.conversations.answer(
                conversation_id=conversation_id,
                message_id=message_id,
                replies=[(reply.text, reply.buttons) for reply in replies],
            )
            frames = [conversations.message_frame(stored) for stored in stored_replies]
        for frame in frames:
            await self.hub.publish(conversation_id, frame)
        # The end of the turn: clients may stop showing the typing indicator.
        await self.hub.publish(
            conversation_id, {"type": "typing", "sender": "bot", "active": False}
        )
