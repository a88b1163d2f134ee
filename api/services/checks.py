"""Named system lookups that diagnostic flows can branch on (`check:` steps)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Check = Callable[[dict[str, Any]], Awaitable[str]]


async def service_outage(slots: dict[str, Any]) -> str:
    """`outage` when a known outage covers the customer's service area.

    The answer needs the customer's service area. Until the conversation has
    identified the customer, the honest answer is `unknown`, and flows carry on
    with the on-site checks.
    """
    area = slots.get("service_area")
    if not area:
        return "unknown"
    return "outage" if area in slots.get("known_outage_areas", ()) else "none"


CHECKS: dict[str, Check] = {
    "service_outage": service_outage,
}


async def run_check(name: str, slots: dict[str, Any]) -> str:
    check = CHECKS.get(name)
    if check is None:
        logger.error("Flow asked for unknown check %r", name)
        return "unknown"
    try:
        return await check(slots)
    except Exception:  # noqa: BLE001 - a failed lookup must not end the conversation
        logger.exception("Check %r failed", name)
        return "unknown"
