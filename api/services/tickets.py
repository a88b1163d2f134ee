"""Support tickets: opening them and looking them up."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Ticket, TicketStatus, parse_ticket_number

DOMAINS = ("hardware", "software", "cable", "internet", "other")
PRIORITIES = ("low", "normal", "high", "urgent")


async def open_ticket(
    *,
    session: AsyncSession,
    conversation_id: Optional[str],
    domain: str,
    title: str,
    summary: str = "",
    tier: int = 1,
    priority: str = "normal",
) -> Ticket:
    """Open a ticket; the diagnostic summary says what was already tried."""
    if domain not in DOMAINS:
        raise ValueError(f"Unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}.")
    if priority not in PRIORITIES:
        raise ValueError(f"Unknown priority {priority!r}.")
    if tier not in (1, 2, 3):
        raise ValueError("Tier must be 1, 2 or 3.")
    ticket = Ticket(
        conversation_id=conversation_id,
        status=TicketStatus.open.value,
        domain=domain,
        title=title.strip()[:200] or "Support request",
        summary=summary,
        tier=tier,
        priority=priority,
    )
    session.add(ticket)
    await session.flush()
    return ticket


async def get_ticket(*, session: AsyncSession, number: str) -> Optional[Ticket]:
    ticket_id = parse_ticket_number(number)
    if ticket_id is None:
        return None
    return await session.get(Ticket, ticket_id)


async def list_tickets(
    *,
    session: AsyncSession,
    conversation_id: Optional[str] = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Ticket], int]:
    """A page of tickets, newest first, and the total count."""
    query = select(Ticket)
    count = select(func.count()).select_from(Ticket)
    if conversation_id is not None:
        query = query.where(Ticket.conversation_id == conversation_id)
        count = count.where(Ticket.conversation_id == conversation_id)
    result = await session.execute(query.order_by(Ticket.id.desc()).limit(limit).offset(offset))
    total = (await session.execute(count)).scalar_one()
    return list(result.scalars().all()), total
