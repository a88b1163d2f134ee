"""The customer's history beside a chat: past conversations, tickets, visits, orders, ratings.

For an identified customer (account and postcode proved in the chat), all of
their history; otherwise what this conversation itself produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Conversation, Handoff, Message, PartOrder, Rating, Sender, Ticket
from api.models import VisitBooking as Visit
from api.services import customers
from api.services.search import first_words

MAX_ITEMS = 20


@dataclass
class History:
    identified: bool
    customer_name: Optional[str] = None
    conversations: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)


async def history_for(*, session: AsyncSession, conversation_id: str) -> History:
    customer = await customers.customer_for_conversation(
        session=session, conversation_id=conversation_id
    )
    if customer is None:
        ids = [conversation_id]
        history = History(identified=False)
        ticket_scope: Any = Ticket.conversation_id == conversation_id
        visit_scope: Any = Visit.conversation_id == conversation_id
        order_scope: Any = PartOrder.conversation_id == conversation_id
    else:
        found = await session.execute(
            select(Conversation.id)
            .where(or_(Conversation.customer_id == customer.id, Conversation.id == conversation_id))
            .order_by(Conversation.created_at.desc())
            .limit(MAX_ITEMS)
        )
        ids = list(found.scalars().all())
        history = History(identified=True, customer_name=customer.name)
        ticket_scope = or_(Ticket.customer_id == customer.id, Ticket.conversation_id.in_(ids))
        visit_scope = Visit.customer_id == customer.id
        order_scope = PartOrder.customer_id == customer.id

    ratings = dict(
        (
            await session.execute(
                select(Rating.conversation_id, Rating.score).where(Rating.conversation_id.in_(ids))
            )
        ).all()
    )
    latest: dict[str, Handoff] = {}
    for handoff in (
        await session.execute(
            select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
        )
    ).scalars():
        latest[handoff.conversation_id] = handoff
    for conversation in (
        await session.execute(
            select(Conversation)
            .where(Conversation.id.in_(ids))
            .order_by(Conversation.created_at.desc())
        )
    ).scalars():
        opening = await session.execute(
            select(Message.text)
            .where(
                Message.conversation_id == conversation.id,
                Message.sender == Sender.customer.value,
            )
            .order_by(Message.id)
            .limit(1)
        )
        handoff = latest.get(conversation.id)
        history.conversations.append(
            {
                "conversation_id": conversation.id,
                "current": conversation.id == conversation_id,
                "started_at": conversation.created_at.isoformat(),
                "first_words": first_words(opening.scalar_one_or_none() or ""),
                "outcome": handoff.status if handoff else "bot",
                "skill": handoff.skill if handoff else None,
                "rating": ratings.get(conversation.id),
            }
        )
    for ticket in (
        await session.execute(
            select(Ticket).where(ticket_scope).order_by(Ticket.id.desc()).limit(MAX_ITEMS)
        )
    ).scalars():
        history.tickets.append(
            {
                "number": ticket.number,
                "title": ticket.title,
                "status": ticket.status,
                "domain": ticket.domain,
                "created_at": ticket.created_at.isoformat(),
            }
        )
    for visit in (
        await session.execute(
            select(Visit).where(visit_scope).order_by(Visit.starts_at.desc()).limit(MAX_ITEMS)
        )
    ).scalars():
        history.visits.append(
            {"id": visit.id, "starts_at": visit.starts_at.isoformat(), "status": visit.status}
        )
    for order in (
        await session.execute(
            select(PartOrder).where(order_scope).order_by(PartOrder.id.desc()).limit(MAX_ITEMS)
        )
    ).scalars():
        history.orders.append(
            {
                "number": order.number,
                "part_name": order.part_name,
                "status": order.status,
                "created_at": order.created_at.isoformat(),
            }
        )
    for conversation_id_rated, score in ratings.items():
        history.ratings.append({"conversation_id": conversation_id_rated, "score": score})
    return history
