"""Known outages per service area: entered by operators, told to customers by the bot."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Outage, ServiceArea, utcnow
from api.services.errors import Conflict, Invalid, NotFound

SERVICES = ("internet", "cable_tv", "all")


# "When will the outage be fixed?", „Gibt es eine Störung in 10115?": a question
# about an outage where the customer lives.
_ABOUT_AN_OUTAGE = re.compile(
    r"\b(outages?|network down|down in my area|st(?:ö|oe)rung(?:en)?|\w*ausfall|ausf(?:ä|ae)lle)\b",
    re.IGNORECASE,
)


def asks_about_outage(text: str) -> bool:
    """The message is about an outage (a status question without a ticket number)."""
    return bool(_ABOUT_AN_OUTAGE.search(text or ""))


async def create_outage(
    *,
    session: AsyncSession,
    service_area: str,
    description: str,
    starts_at: Optional[datetime] = None,
    expected_end: Optional[datetime] = None,
    service: str = "all",
    actor: str,
    idempotency_key: Optional[str] = None,
) -> Outage:
    if idempotency_key:
        found = await session.execute(
            select(Outage).where(Outage.idempotency_key == idempotency_key)
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return existing
    if await session.get(ServiceArea, service_area) is None:
        raise NotFound(f"No service area {service_area!r}.")
    if service not in SERVICES:
        raise Invalid(f"Unknown service {service!r}; expected one of {', '.join(SERVICES)}.")
    starts_at = starts_at or utcnow()
    if expected_end is not None and expected_end <= starts_at:
        raise Invalid("The expected end must be after the start.")
    outage = Outage(
        service_area=service_area,
        service=service,
        description=description.strip(),
        starts_at=starts_at,
        expected_end=expected_end,
        created_by=actor,
        idempotency_key=idempotency_key,
    )
    session.add(outage)
    await session.flush()
    return outage


async def get_outage(*, session: AsyncSession, outage_id: int) -> Outage:
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise NotFound(f"No outage {outage_id}.")
    return outage


async def update_outage(
    *,
    session: AsyncSession,
    outage: Outage,
    expected_end: Optional[datetime] = None,
    description: Optional[str] = None,
    ended: bool = False,
) -> Outage:
    if outage.ended_at is not None:
        raise Conflict(f"Outage {outage.id} has already ended.")
    if expected_end is not None:
        if expected_end <= outage.starts_at:
            raise Invalid("The expected end must be after the start.")
        outage.expected_end = expected_end
    if description:
        outage.description = description.strip()
    if ended:
        outage.ended_at = utcnow()
    await session.flush()
    return outage


async def current_outage(
    *,
    session: AsyncSession,
    service_area: str,
    service: Optional[str] = None,
    now: Optional[datetime] = None,
) -> Optional[Outage]:
    """The outage affecting the area now (until an operator ends it), if any."""
    now = now or utcnow()
    conditions = [
        Outage.service_area == service_area,
        Outage.starts_at <= now,
        Outage.ended_at.is_(None),
    ]
    if service:
        conditions.append(or_(Outage.service == service, Outage.service == "all"))
    query = select(Outage).where(*conditions).order_by(Outage.starts_at)
    return (await session.execute(query)).scalars().first()


async def list_outages(
    *,
    session: AsyncSession,
    service_area: Optional[str] = None,
    active_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Outage], int]:
    conditions = []
    if service_area:
        conditions.append(Outage.service_area == service_area)
    if active_only:
        conditions.append(Outage.ended_at.is_(None))
    rows = await session.execute(
        select(Outage).where(*conditions).order_by(Outage.id.desc()).limit(limit).offset(offset)
    )
    total = await session.execute(select(func.count()).select_from(Outage).where(*conditions))
    return list(rows.scalars().all()), int(total.scalar_one())
