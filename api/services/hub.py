"""Delivers frames to every open socket of a channel (a conversation, the queue, …).

`ConversationHub` works inside one API process, the default. `RedisHub` does the
same across several API workers: each worker delivers to its own sockets and
relays through Redis pub/sub to the others, so a customer on worker A, an agent
on worker B and a reply produced on worker C all meet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Optional

logger = logging.getLogger(__name__)

FrameSender = Callable[[dict[str, Any]], Awaitable[None]]
REDIS_PREFIX = "support:hub:"


class ConversationHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[FrameSender]] = defaultdict(set)

    async def start(self) -> None:
        """Nothing to start in-process."""

    async def stop(self) -> None:
        """Nothing to stop in-process."""

    def subscribe(self, channel: str, sender: FrameSender) -> None:
        self._subscribers[channel].add(sender)

    def unsubscribe(self, channel: str, sender: FrameSender) -> None:
        senders = self._subscribers.get(channel)
        if senders is not None:
            senders.discard(sender)
            if not senders:
                del self._subscribers[channel]

    async def publish(
        self,
        channel: str,
        frame: dict[str, Any],
        *,
        exclude: Optional[FrameSender] = None,
    ) -> None:
        await self.deliver_locally(channel, frame, exclude=exclude)

    async def deliver_locally(
        self, channel: str, frame: dict[str, Any], *, exclude: Optional[FrameSender] = None
    ) -> None:
        senders = [s for s in self._subscribers.get(channel, ()) if s != exclude]
        if len(senders) == 1:
            # The usual case, one open chat window: sent straight away, without a
            # task per frame and the event-loop rounds that gathering one costs.
            try:
                await senders[0](frame)
            except Exception as error:  # noqa: BLE001 - as the gathered case below
                logger.debug("A subscriber of %s could not be reached: %r", channel, error)
            return
        results = await asyncio.gather(*(s(frame) for s in senders), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                # A socket that went away; its own handler cleans up.
                logger.debug("A subscriber of %s could not be reached: %r", channel, result)

    def socket_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())


class RedisHub(ConversationHub):
    """The hub across API workers, through Redis pub/sub."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.redis_url = redis_url
        self.worker_id = uuid.uuid4().hex
        self._redis: Any = None
        self._listener: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self.redis_url, decode_responses=True)
        await self._redis.ping()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(f"{REDIS_PREFIX}*")
        self._listener = asyncio.create_task(self._listen(pubsub))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(
        self,
        channel: str,
        frame: dict[str, Any],
        *,
        exclude: Optional[FrameSender] = None,
    ) -> None:
        # Local sockets first (they may include the excluded sender), then the others.
        await self.deliver_locally(channel, frame, exclude=exclude)
        message = json.dumps({"origin": self.worker_id, "frame": frame}, default=str)
        try:
            await self._redis.publish(REDIS_PREFIX + channel, message)
        except Exception:  # noqa: BLE001 - other workers miss it; the DB still has it
            logger.exception("Could not relay a frame on %s through Redis", channel)

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    body = json.loads(message["data"])
                    if body.get("origin") == self.worker_id:
                        continue
                    channel = str(message["channel"])[len(REDIS_PREFIX) :]
                    await self.deliver_locally(channel, body["frame"])
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep relaying after a hiccup
                logger.exception("The Redis relay failed; reconnecting")
                await asyncio.sleep(1)
                try:
                    await pubsub.psubscribe(f"{REDIS_PREFIX}*")
                except Exception:  # noqa: BLE001
                    logger.exception("Could not resubscribe to Redis")
