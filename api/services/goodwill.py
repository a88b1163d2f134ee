"""Goodwill gestures: the policy in data/catalog/goodwill.yml, offers, answers, limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import (
    Customer,
    GestureStatus,
    GoodwillGesture,
    Ticket,
    TicketEvent,
    VisitBooking,
    utcnow,
)
from api.services import catalog, outages, tickets
from api.services.catalog import Gesture, GoodwillPolicy, GoodwillRule
from api.services.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.staff import Staff
from bot.wording import say


@dataclass
class Eligibility:
    rule: Optional[GoodwillRule]
    reason: str


async def _given(
    session: AsyncSession, customer_id: int, policy: GoodwillPolicy, now: datetime
) -> tuple[int, int]:
    """Gestures and credit cents given (offered or accepted) in the policy period."""
    since = now - timedelta(days=policy.period_days)
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(GoodwillGesture.amount_cents), 0)).where(
                GoodwillGesture.customer_id == customer_id,
                GoodwillGesture.offered_at >= since,
                GoodwillGesture.status != GestureStatus.declined.value,
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def _within_limits(
    session: AsyncSession,
    customer_id: int,
    amount_cents: int,
    policy: GoodwillPolicy,
    now: datetime,
) -> Optional[str]:
    count, credit = await _given(session, customer_id, policy, now)
    if count >= policy.max_gestures:
        return say("record.goodwill.too_many", count=count, days=policy.period_days)
    if credit + amount_cents > int(policy.max_credit_per_period * 100):
        return say("record.goodwill.over_credit", limit=policy.max_credit_per_period)
    return None


async def _unresolved_after_visit(session: AsyncSession, customer_id: int) -> bool:
    query = (
        select(func.count())
        .select_from(Ticket)
        .join(VisitBooking, VisitBooking.ticket_id == Ticket.id)
        .where(
            Ticket.customer_id == customer_id,
            Ticket.status.in_(tickets.OPEN_STATUSES),
            VisitBooking.status == "done",
        )
    )
    if (await session.execute(query)).scalar_one():
        return True
    # A visit took place (its time has passed) and the ticket is still open.
    query = (
        select(func.count())
        .select_from(Ticket)
        .join(VisitBooking, VisitBooking.ticket_id == Ticket.id)
        .where(
            Ticket.customer_id == customer_id,
            Ticket.status.in_(tickets.OPEN_STATUSES),
            VisitBooking.status == "booked",
            VisitBooking.ends_at <= utcnow(),
        )
    )
    return bool((await session.execute(query)).scalar_one())


async def _holds(
    session: AsyncSession,
    rule: GoodwillRule,
    customer: Customer,
    now: datetime,
    domain: Optional[str],
) -> bool:
    when = rule.when
    tiers = when.get("customer_tiers")
    if tiers and customer.tier not in tiers:
        return False
    if when.get("unresolved_after_visit") and not await _unresolved_after_visit(
        session, customer.id
    ):
        return False
    repeat = when.get("repeat_contacts")
    if repeat:
        since = now - timedelta(days=int(repeat.get("within_days", 30)))
        contacts = await tickets.recent_in_domain(
            session=session, customer_id=customer.id, since=since, domain=domain
        )
        if contacts < int(repeat.get("count", 2)):
            return False
    hours = when.get("outage_longer_than_hours")
    if hours is not None:
        outage = await outages.current_outage(
            session=session, service_area=customer.service_area, now=now
        )
        if outage is None:
            return False
        ends = outage.expected_end or now
        if max(ends, now) - outage.starts_at <= timedelta(hours=float(hours)):
            return False
    return True


async def eligibility(
    *,
    session: AsyncSession,
    customer: Customer,
    domain: Optional[str] = None,
    now: Optional[datetime] = None,
) -> Eligibility:
    """The first policy rule that applies and fits the customer's limits, if any."""
    now = now or utcnow()
    policy = catalog.goodwill_policy()
    for rule in policy.rules:
        if not await _holds(session, rule, customer, now, domain):
            continue
        over = await _within_limits(
            session, customer.id, int(rule.gesture.amount * 100), policy, now
        )
        if over:
            return Eligibility(None, say("record.goodwill.rule_but", rule=rule.id, why=over))
        return Eligibility(rule, f"policy rule {rule.id}")
    return Eligibility(None, say("record.goodwill.no_rule"))


async def record_offer(
    *,
    session: AsyncSession,
    customer_id: int,
    gesture: Gesture,
    reason: str,
    offered_by: str,
    staff_id: Optional[int] = None,
    conversation_id: Optional[str] = None,
    ticket_id: Optional[int] = None,
    idempotency_key: Optional[str] = None,
) -> GoodwillGesture:
    row = GoodwillGesture(
        customer_id=customer_id,
        ticket_id=ticket_id,
        conversation_id=conversation_id,
        kind=gesture.kind,
        amount_cents=int(gesture.amount * 100),
        description=gesture.description,
        reason=reason,
        offered_by=offered_by,
        staff_id=staff_id,
        idempotency_key=idempotency_key,
    )
    session.add(row)
    await session.flush()
    if ticket_id is not None:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is not None:
            await tickets.record_event(
                session=session,
                ticket=ticket,
                kind="goodwill",
                actor=offered_by,
                detail=f"Offered {gesture.description} ({reason})",
            )
    return row


async def staff_offer(
    *,
    session: AsyncSession,
    staff: Staff,
    customer_id: int,
    kind: str,
    amount: Decimal,
    description: str,
    reason: str,
    ticket_id: Optional[int] = None,
    idempotency_key: Optional[str] = None,
) -> GoodwillGesture:
    """An agent's offer, within their role's limits and the customer's."""
    if idempotency_key:
        found = await session.execute(
            select(GoodwillGesture).where(GoodwillGesture.idempotency_key == idempotency_key)
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return existing
    policy = catalog.goodwill_policy()
    if kind not in policy.kinds:
        raise Invalid(f"Unknown gesture {kind!r}; expected one of {', '.join(policy.kinds)}.")
    kinds = policy.supervisor_kinds if staff.is_supervisor else policy.agent_kinds
    ceiling = policy.supervisor_max_credit if staff.is_supervisor else policy.agent_max_credit
    if kind not in kinds:
        raise Forbidden(f"Your role may not offer a {kind.replace('_', ' ')}.")
    if amount < 0 or amount > ceiling:
        raise Forbidden(f"Your limit for one gesture is EUR {ceiling}.")
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"No customer {customer_id}.")
    if ticket_id is not None and await session.get(Ticket, ticket_id) is None:
        raise NotFound(f"No ticket {ticket_id}.")
    over = await _within_limits(session, customer_id, int(amount * 100), policy, utcnow())
    if over:
        raise Conflict(f"Not allowed: {over}.")
    return await record_offer(
        session=session,
        customer_id=customer_id,
        gesture=Gesture(kind=kind, description=description, amount=amount),
        reason=reason,
        offered_by=staff.name,
        staff_id=staff.id,
        ticket_id=ticket_id,
        idempotency_key=idempotency_key,
    )


async def decide(
    *, session: AsyncSession, gesture: GoodwillGesture, accepted: bool, actor: str
) -> GoodwillGesture:
    if gesture.status != GestureStatus.offered.value:
        raise Conflict(f"The gesture was already {gesture.status}.")
    gesture.status = (GestureStatus.accepted if accepted else GestureStatus.declined).value
    gesture.decided_at = utcnow()
    await session.flush()
    if gesture.ticket_id is not None:
        ticket = await session.get(Ticket, gesture.ticket_id)
        if ticket is not None:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    kind="goodwill",
                    actor=actor,
                    detail=f"Gesture {gesture.id} {gesture.status}",
                )
            )
            await session.flush()
    return gesture


async def get_gesture(*, session: AsyncSession, gesture_id: int) -> GoodwillGesture:
    gesture = await session.get(GoodwillGesture, gesture_id)
    if gesture is None:
        raise NotFound(f"No goodwill gesture {gesture_id}.")
    return gesture


async def list_gestures(
    *,
    session: AsyncSession,
    customer_id: Optional[int] = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[GoodwillGesture], int]:
    conditions = [GoodwillGesture.customer_id == customer_id] if customer_id is not None else []
    rows = await session.execute(
        select(GoodwillGesture)
        .where(*conditions)
        .order_by(GoodwillGesture.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(
        select(func.count()).select_from(GoodwillGesture).where(*conditions)
    )
    return list(rows.scalars().all()), int(total.scalar_one())
