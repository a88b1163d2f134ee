"""Abuse limits: messages per conversation and per address, new conversations, wrong logins.

The counts live in Redis when several API workers share the load (REDIS_URL),
so that a limit holds across all of them; otherwise in this process. Each
limit counts in fixed windows: "30 a minute" allows 30 from the start of a
minute-long window, and the refusal says how long until the window ends.
Settings and the errors that going over a limit returns: docs/operations.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from api.config import Settings
from bot.wording import say


class Counters(Protocol):
    async def add(self, key: str, window_seconds: float) -> tuple[int, float]:
        """Counts one more for `key`: the count in its window, and seconds until it ends."""

    async def block(self, key: str, seconds: float) -> None:
        """Marks `key` as blocked for `seconds`."""

    async def blocked_for(self, key: str) -> float:
        """Seconds `key` stays blocked; 0 if it is not."""

    async def reset(self, key: str) -> None:
        """Forgets `key`'s count and block."""


class MemoryCounters:
    """Counters of this process (one API worker)."""

    PRUNE_EVERY = 1000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._blocks: dict[str, float] = {}
        self._since_prune = 0

    def _prune(self, now: float) -> None:
        self._since_prune += 1
        if self._since_prune < self.PRUNE_EVERY:
            return
        self._since_prune = 0
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._blocks = {k: v for k, v in self._blocks.items() if v > now}

    async def add(self, key: str, window_seconds: float) -> tuple[int, float]:
        now = time.monotonic()
        self._prune(now)
        count, ends = self._counts.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window_seconds
        count += 1
        self._counts[key] = (count, ends)
        return count, ends - now

    async def block(self, key: str, seconds: float) -> None:
        self._blocks[key] = time.monotonic() + seconds

    async def blocked_for(self, key: str) -> float:
        return max(0.0, self._blocks.get(key, 0.0) - time.monotonic())

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)
        self._blocks.pop(key, None)


class RedisCounters:
    """Counters shared by every API worker, in Redis."""

    PREFIX = "limits:"

    def __init__(self, redis_url: str) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(redis_url)

    async def close(self) -> None:
        await self._redis.aclose()

    async def add(self, key: str, window_seconds: float) -> tuple[int, float]:
        name = self.PREFIX + "count:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            # Only the first count of a window sets when it ends.
            pipe.pexpire(name, max(1, int(window_seconds * 1000)), nx=True)
            pipe.pttl(name)
            count, _, ttl = await pipe.execute()
        return int(count), max(0, int(ttl)) / 1000

    async def block(self, key: str, seconds: float) -> None:
        await self._redis.set(self.PREFIX + "block:" + key, 1, px=max(1, int(seconds * 1000)))

    async def blocked_for(self, key: str) -> float:
        ttl = await self._redis.pttl(self.PREFIX + "block:" + key)
        return max(0, int(ttl)) / 1000

    async def reset(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + "count:" + key, self.PREFIX + "block:" + key)


def counters_for(settings: Settings) -> Counters:
    return RedisCounters(settings.redis_url) if settings.redis_url else MemoryCounters()


@dataclass
class Refused:
    """Over a limit: which one (a `limits.*` key of the wording catalogue), and in how
    many whole seconds to try again."""

    key: str
    retry_after: int

    def reason(self, language: str) -> str:
        """What to tell the client, in its language."""
        return say(self.key, language)


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


class Limits:
    """The limits on what customers send and on signing in."""

    MINUTE = 60.0

    def __init__(self, settings: Settings, counters: Optional[Counters] = None) -> None:
        self.settings = settings
        self.counters = counters or counters_for(settings)

    async def close(self) -> None:
        if isinstance(self.counters, RedisCounters):
            await self.counters.close()

    async def message(self, *, conversation_id: str, address: str) -> Optional[Refused]:
        """A customer message: at most so many a minute per conversation (all its sockets
        together) and per client address."""
        s = self.settings
        in_conversation, ends = await self.counters.add(f"msg:c:{conversation_id}", self.MINUTE)
        if in_conversation > s.max_messages_per_minute:
            return Refused("limits.messages", _seconds(ends))
        if address in s.exempt_addresses:
            return None
        from_address, ends = await self.counters.add(f"msg:a:{address}", self.MINUTE)
        if from_address > s.max_messages_per_minute_per_address:
            return Refused("limits.messages_from_network", _seconds(ends))
        return None

    async def new_conversation(self, *, address: str) -> Optional[Refused]:
        if address in self.settings.exempt_addresses:
            return None
        started, ends = await self.counters.add(f"conv:a:{address}", self.MINUTE)
        if started > self.settings.max_new_conversations_per_minute:
            return Refused("limits.new_conversations", _seconds(ends))
        return None

    # -------------------------------------------------------------- sign-in

    def _login_keys(self, email: str, address: str) -> list[tuple[str, int]]:
        s = self.settings
        keys = [(f"login:e:{email.strip().lower()}", s.login_failures_per_account)]
        if address not in s.exempt_addresses:
            keys.append((f"login:a:{address}", s.login_failures_per_address))
        return keys

    async def login_wait(self, *, email: str, address: str) -> Optional[Refused]:
        """Refused while the account or the address must wait after wrong passwords."""
        wait = 0.0
        for key, _ in self._login_keys(email, address):
            wait = max(wait, await self.counters.blocked_for(key))
        if wait > 0:
            return Refused("limits.sign_in", _seconds(wait))
        return None

    async def login_failed(self, *, email: str, address: str) -> None:
        """A wrong password: past the free tries, each one doubles the wait (to a limit)."""
        s = self.settings
        for key, free_tries in self._login_keys(email, address):
            failures, _ = await self.counters.add(key, s.login_failure_window_seconds)
            if failures >= free_tries:
                wait = min(
                    s.login_max_wait_seconds,
                    s.login_first_wait_seconds * 2 ** (failures - free_tries),
                )
                await self.counters.block(key, wait)

    async def login_succeeded(self, *, email: str) -> None:
        """The account's count starts over; the address's does not."""
        key, _ = self._login_keys(email, "")[0]
        await self.counters.reset(key)
