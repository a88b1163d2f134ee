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
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, Optional

from api.models import ConversationOwner, DeliveryStatus, Sender
from api.models.base import utcnow
from api.services import conversations
from api.services.conversations import ConversationStore
from api.services.handoff_desk import HandoffDesk, staff_channel
from api.services.hub import ConversationHub, FrameSender
from api.services.rasa_client import BotReply, RasaClient, RasaUnavailable
from bot import language as languages
from bot.flows.engine import PROBLEM_INTENTS, WORDS_OF_A_NEW_PROBLEM
from bot.markup import without_markup
from bot.wording import say

logger = logging.getLogger(__name__)
# How sure the language model must be that a queued customer's message tells a
# problem before the assistant takes the chat back for it (nobody online to take it).
PROBLEM_CONFIDENCE = 0.6
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
        conversations: ConversationStore,
        rasa: RasaClient,
        hub: ConversationHub,
        desk: Optional[HandoffDesk] = None,
        lease_seconds: float = 30.0,
        max_age_seconds: float = 900.0,
    ) -> None:
        self.conversations = conversations
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
            stored = await self.conversations.store_customer_message(
                conversation_id=conversation_id,
                client_id=client_id,
                text=text,
                payload=payload,
                lease_seconds=self.lease_seconds,
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
            language = await self._follow_language(conversation_id, stored)
            if stored.owner == ConversationOwner.queued.value and await self._back_to_assistant(
                conversation_id, message, language
            ):
                # Nobody online can take the chat, and the customer tells their problem
                # ("no thanks, I'll try you first, my internet is slow"): the assistant
                # takes the chat back and answers it, instead of keeping it for nobody.
                announce = self._announce(conversation_id, stored, reply_to)
                await self._ask_assistant(conversation_id, message, announce, language)
                return
            if stored.owner != ConversationOwner.bot.value:
                # A person has the chat (or will soon): the bot stays silent. Agents
                # see the message through the hub.
                await self._acknowledge(conversation_id, stored, reply_to)
                await self.conversations.set_status(message.id, DeliveryStatus.answered)
                if stored.owner == ConversationOwner.queued.value and self.desk is not None:
                    await self._answer_in_queue(
                        conversation_id, message.payload, message.text, language
                    )
                return
            announce = self._announce(conversation_id, stored, reply_to)
            await self._ask_assistant(conversation_id, message, announce, language)

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
        now = languages.follow(stored.language, without_markup(message.text))
        if now != stored.language:
            await self.conversations.set_language(conversation_id, now)
            await self.hub.publish(
                staff_channel(conversation_id), {"type": "language", "language": now}
            )
            if stored.owner == ConversationOwner.queued.value and self.desk is not None:
                await self.desk.queue_changed()  # queue entries show the language
        return now

    async def _take_over(self, message_id: int) -> bool:
        """Takes a message whose worker died before answering it (its lease ran out)."""
        return await self.conversations.take_over(message_id, lease_seconds=self.lease_seconds)

    async def answer_unanswered(self, message: conversations.StoredMessage) -> bool:
        """Answers a customer message that a worker stored and then died before answering.

        Exactly once: the message is taken over first, and of several workers
        trying only one gets it. If Rasa already handled it before the crash
        (its tracker has the message), its replies then are stored and sent;
        otherwise the message goes to Rasa now, in the conversation's language.
        A person's chat only marks it, and a message older than `max_age_seconds`
        gets the `system.too_late` notice.
        True if this worker answered it; False if it was not to be had, or if
        Rasa could not be asked (it is tried again once the lease runs out).
        """
        conversation_id = message.conversation_id
        if not await self._take_over(message.id):
            return False
        async with self._conversation_lock(conversation_id):
            owner, language = await self.conversations.owner_and_language(conversation_id)
            if owner != ConversationOwner.bot.value:
                # A person has the chat (and saw the message) or it was closed.
                await self.conversations.set_status(message.id, DeliveryStatus.answered)
                return True
            age = (utcnow() - message.created_at).total_seconds()
            if age > self.max_age_seconds:
                logger.info("Message %s is %.0f s old: the customer is told.", message.id, age)
                await self._answer_with_system_message(
                    conversation_id, message.id, say("system.too_late", language)
                )
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
                await self._ask_assistant(conversation_id, message, typing, language)
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

    async def _back_to_assistant(
        self, conversation_id: str, message: conversations.StoredMessage, language: str
    ) -> bool:
        """Whether a queued customer's message goes to the assistant instead: nobody
        online can take the chat, they chose neither to wait nor a call back, and the
        message tells a problem. If so, they have left the queue."""
        if self.desk is None or message.payload or not message.text.strip():
            return False
        if len(message.text.split()) < WORDS_OF_A_NEW_PROBLEM:
            return False  # "on wifi", "hello?": no problem told
        if not await self.desk.nobody_can_take(conversation_id):
            return False
        # The whole message, or one of its last sentences: "no thanks, I'll try you
        # first. my internet is slow".
        sentences = [s for s in SENTENCE_END.split(message.text) if len(s.split()) >= 3]
        for text in [message.text, *sentences[-2:]]:
            try:
                intent, confidence = await self.rasa.intent_of(sender_id=conversation_id, text=text)
            except RasaUnavailable:
                return False
            if intent in PROBLEM_INTENTS and confidence >= PROBLEM_CONFIDENCE:
                return await self.desk.leave_queue(conversation_id, language, quietly=True)
        return False

    async def _answer_in_queue(
        self, conversation_id: str, payload: Optional[str], text: str, language: str
    ) -> None:
        """The queue answers a waiting customer: their call back (the choice, the phone
        number asked for), or where they are in the queue. The message itself is for the
        agent, who sees it through the hub."""
        assert self.desk is not None
        typing = {"type": "typing", "sender": "bot"}
        await self.hub.publish(conversation_id, {**typing, "active": True})
        try:
            if not await self.desk.handle_queued_message(
                conversation_id, payload, language, text=text
            ):
                await self.desk.answer_waiting_customer(conversation_id, language)
        finally:
            await self.hub.publish(conversation_id, {**typing, "active": False})

    async def _ask_assistant(
        self,
        conversation_id: str,
        message: conversations.StoredMessage,
        announce: Awaitable[None],
        language: str,
    ) -> None:
        # The message is stored: it goes to the assistant first, and the ack and the
        # typing indicator (`announce`) go out while the assistant works on it, not before.
        message_id, text = message.id, message.payload or without_markup(message.text)
        announced = asyncio.ensure_future(announce)
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
            await self._answer_with_system_message(
                conversation_id, message_id, say("system.unavailable", language)
            )
        else:
            await self._store_and_send_replies(conversation_id, message_id, replies)

    async def _answer_with_system_message(
        self, conversation_id: str, message_id: int, text: str
    ) -> None:
        """The message failed: a stored system message says so, and the turn ends."""
        notice = await self.conversations.fail(
            conversation_id=conversation_id, message_id=message_id, notice=text
        )
        await self._send_turn(conversation_id, [conversations.message_frame(notice)])

    async def _store_and_send_replies(
        self, conversation_id: str, message_id: int, replies: list[BotReply]
    ) -> None:
        stored_replies = await self.conversations.answer(
            conversation_id=conversation_id,
            message_id=message_id,
            replies=[(reply.text, reply.buttons) for reply in replies],
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
