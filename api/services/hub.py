"""Delivers frames to every open socket of a conversation.

In-process by default. A Redis-backed hub for several API workers can take its
place behind the same two methods.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Optional

logger = logging.getLogger(__name__)

FrameSender = Callable[[dict[str, Any]], Awaitable[None]]


class ConversationHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[FrameSender]] = defaultdict(set)

    def subscribe(self, conversation_id: str, sender: FrameSender) -> None:
        self._subscribers[conversation_id].add(sender)

    def unsubscribe(self, conversation_id: str, sender: FrameSender) -> None:
        senders = self._subscribers.get(conversation_id)
        if senders is not None:
            senders.discard(sender)
            if not senders:
                del self._subscribers[conversation_id]

    async def publish(
        self,
        conversation_id: str,
        frame: dict[str, Any],
        *,
        exclude: Optional[FrameSender] = None,
    ) -> None:
        senders = [s for s in self._subscribers.get(conversation_id, ()) if s != exclude]
        results = await asyncio.gather(*(s(frame) for s in senders), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                # A socket that went away; its own handler cleans up.
                logger.debug("A subscriber of %s could not be reached: %r", conversation_id, result)

    def socket_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
