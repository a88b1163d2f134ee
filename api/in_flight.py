"""At most N holders at a time; the rest wait their turn in arrival order."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Optional


class InFlightLimit:
    """At most `limit` holders at a time; the others wait, first come, first served.

    Used for the customer messages one worker gives a Rasa instance at a time
    (api/services/rasa_client.py) and for SQLite's one writer at a time
    (api/sqlite_statements.py). A waiter is woken the moment a place is free.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("The in-flight limit must be at least 1.")
        self.limit = limit
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Takes a place if one is free and nobody is waiting for it."""
        if self._in_flight < self.limit and not self._waiters:
            self._in_flight += 1
            return True
        return False

    async def acquire(self, timeout: Optional[float] = None) -> None:
        """Takes a place, waiting in turn; after `timeout` seconds, asyncio.TimeoutError.

        The wait is a bare future with a timer, not a task: under load nearly
        every message waits, and `asyncio.wait_for` would start a task for each.
        """
        if self.try_acquire():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter  # the place is handed over already counted
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # handed a place just as the wait was given up
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place passes on; the count stays
                return
        self._in_flight -= 1


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())
