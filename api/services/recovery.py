"""Answers the customer messages that an API worker stored and then died before answering.

A customer message is stored `received` with a lease (`ANSWER_LEASE_SECONDS`):
the worker that stored it answers it before the lease runs out, or has died.
Every worker looks for messages whose lease ran out when it starts, every
`RECOVERY_CHECK_SECONDS` while Rasa is reachable (so also once Rasa is back),
and when a customer reconnects to a conversation. Each such message is taken
over by exactly one worker (`ChatGateway.answer_unanswered`) and answered in
order within its conversation; the replies are stored and sent to every socket
of the conversation, and a customer who reconnects later finds them in the
history.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Optional

from api.services.chat_gateway import ChatGateway
from api.services.conversations import ConversationStore, StoredMessage
from api.services.rasa_client import RasaClient

logger = logging.getLogger(__name__)


class UnansweredMessages:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        gateway: ChatGateway,
        rasa: RasaClient,
        check_seconds: float,
    ) -> None:
        self.conversations = conversations
        self.gateway = gateway
        self.rasa = rasa
        self.check_seconds = check_seconds
        self._tasks: set[asyncio.Task[int]] = set()

    async def answer(self, conversation_id: Optional[str] = None) -> int:
        """Answers the messages whose lease ran out (of one conversation, or all); how many."""
        found = await self.conversations.unanswered(conversation_id=conversation_id)
        if not found:
            return 0
        by_conversation: dict[str, list[StoredMessage]] = defaultdict(list)
        for message in found:
            by_conversation[message.conversation_id].append(message)
        logger.info(
            "Found %d unanswered customer messages in %d conversations.",
            len(found),
            len(by_conversation),
        )
        counts = await asyncio.gather(
            *(self._answer_in_order(messages) for messages in by_conversation.values())
        )
        return sum(counts)

    async def _answer_in_order(self, messages: list[StoredMessage]) -> int:
        answered = 0
        for message in messages:
            if not await self.gateway.answer_unanswered(message):
                break  # the later ones wait, so that the order stays
            answered += 1
        return answered

    def answer_soon(self, conversation_id: str) -> None:
        """Answers a conversation's unanswered messages in the background (a customer is back)."""
        task = asyncio.create_task(self._answer_logged(conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_logged(self, conversation_id: Optional[str] = None) -> int:
        try:
            return await self.answer(conversation_id)
        except Exception:  # noqa: BLE001 - tried again on the next check
            logger.exception("Answering unanswered messages failed; trying again later.")
            return 0

    async def watch(self) -> None:
        """Runs for the life of the worker: a check at start and every `check_seconds`."""
        while True:
            try:
                reachable = (await self.rasa.status()).reachable
            except Exception:  # noqa: BLE001 - the watch must outlive any one failure
                logger.exception("Could not ask whether Rasa is reachable.")
                reachable = False
            if reachable:
                await self._answer_logged()
            await asyncio.sleep(self.check_seconds)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
