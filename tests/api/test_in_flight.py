"""InFlightLimit: at most N holders at a time, the rest in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from api.in_flight import InFlightLimit


async def test_the_limit_lets_at_most_n_through_and_the_rest_in_arrival_order() -> None:
    limit = InFlightLimit(2)
    order: list[int] = []
    inside = 0
    most_inside = 0
    release = asyncio.Event()

    async def message(number: int) -> None:
        nonlocal inside, most_inside
        await limit.acquire()
        try:
            order.append(number)
            inside += 1
            most_inside = max(most_inside, inside)
            await release.wait()
            inside -= 1
        finally:
            limit.release()

    tasks = [asyncio.create_task(message(n)) for n in range(6)]
    await asyncio.sleep(0.01)
    assert (limit.in_flight, limit.waiting, order) == (2, 4, [0, 1])
    assert not limit.try_acquire()  # no jumping the queue
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5] and most_inside == 2
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_a_message_that_stops_waiting_gives_up_its_place_and_no_slot_is_lost() -> None:
    limit = InFlightLimit(1)
    await limit.acquire()
    gives_up = asyncio.create_task(limit.acquire())
    stays = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    gives_up.cancel()
    await asyncio.sleep(0)
    limit.release()
    await asyncio.wait_for(stays, 1)  # the next in line got the slot
    assert (limit.in_flight, limit.waiting) == (1, 0)
    limit.release()
    assert limit.in_flight == 0


async def test_a_slot_handed_over_as_the_wait_is_cancelled_is_returned() -> None:
    limit = InFlightLimit(1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    limit.release()  # hands the slot to the waiter ...
    waiter.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (limit.in_flight, limit.waiting) == (0, 0)
    await asyncio.wait_for(limit.acquire(), 1)


async def test_a_free_place_is_taken_at_once_and_a_wait_for_a_busy_one_times_out() -> None:
    limit = InFlightLimit(1)
    await limit.acquire(timeout=0.01)
    assert limit.in_flight == 1
    with pytest.raises(asyncio.TimeoutError):
        await limit.acquire(timeout=0.01)
    assert (limit.in_flight, limit.waiting) == (1, 0)  # the timed-out wait left no trace
    limit.release()
    await limit.acquire(timeout=0.01)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        InFlightLimit(0)


async def test_a_place_freed_before_the_timeout_goes_to_the_waiter() -> None:
    limit = InFlightLimit(1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire(timeout=5))
    await asyncio.sleep(0)
    limit.release()
    await asyncio.wait_for(waiter, 1)
    assert (limit.in_flight, limit.waiting) == (1, 0)
    limit.release()
    assert limit.in_flight == 0


async def test_a_waiter_that_timed_out_does_not_hold_up_the_next_in_line() -> None:
    limit = InFlightLimit(1)
    await limit.acquire()
    impatient = asyncio.create_task(limit.acquire(timeout=0.01))
    patient = asyncio.create_task(limit.acquire(timeout=5))
    with pytest.raises(asyncio.TimeoutError):
        await impatient
    assert limit.waiting == 1
    limit.release()
    await asyncio.wait_for(patient, 1)
    assert (limit.in_flight, limit.waiting) == (1, 0)
