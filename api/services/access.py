"""Who on the staff may read which conversation, transcript and ticket.

Access follows assignment. An agent reads the chats waiting in a queue routed
to them (their skills, their tier or below), the chats they have or had, and
the chats they took part in (a transfer, an escalation, a note). A ticket is
theirs to read when its conversation is, or when it is routed to them (its
domain among their skills, its tier at most theirs); a ticket's transcript is
readable with the ticket. Supervisors and the operator key read everything.

Every route and the console's websocket ask here, so the rule is in one place;
the answer for anything else is "There is no such conversation" (404), so the
existence of other chats is not revealed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from api.models import Handoff, HandoffEvent, HandoffStatus, InternalNote, Ticket
from api.services.staff import Staff


def conversation_condition(staff: Staff, conversation_id: Any) -> ColumnElement[bool]:
    """SQL: the conversation (a column or a value) is readable by this person."""
    if staff.is_supervisor:
        return true()
    if staff.id is None:
        return false()
    skills = list(staff.skills)
    took_part = or_(
        Handoff.agent_id == staff.id,
        exists().where(HandoffEvent.handoff_id == Handoff.id, HandoffEvent.agent_id == staff.id),
        and_(
            Handoff.status == HandoffStatus.waiting.value,
            Handoff.skill.in_(skills),
            Handoff.tier <= staff.tier,
        ),
    )
    return or_(
        exists().where(Handoff.conversation_id == conversation_id, took_part),
        exists().where(
            InternalNote.conversation_id == conversation_id, InternalNote.agent_id == staff.id
        ),
    )


def ticket_condition(staff: Staff) -> ColumnElement[bool]:
    """SQL: the ticket row is readable by this person."""
    if staff.is_supervisor:
        return true()
    if staff.id is None:
        return false()
    return or_(
        and_(Ticket.domain.in_(list(staff.skills)), Ticket.tier <= staff.tier),
        and_(
            Ticket.conversation_id.is_not(None),
            conversation_condition(staff, Ticket.conversation_id),
        ),
    )


async def may_read_conversation(
    *, session: AsyncSession, staff: Staff, conversation_id: str
) -> bool:
    if staff.is_supervisor:
        return True
    found = await session.execute(select(conversation_condition(staff, conversation_id)))
    return bool(found.scalar())


async def may_read_ticket(*, session: AsyncSession, staff: Staff, ticket: Ticket) -> bool:
    if staff.is_supervisor:
        return True
    found = await session.execute(
        select(Ticket.id).where(Ticket.id == ticket.id, ticket_condition(staff))
    )
    return found.scalar_one_or_none() is not None


async def may_read_transcript(*, session: AsyncSession, staff: Staff, conversation_id: str) -> bool:
    """The conversation itself, or one of its tickets, is readable."""
    if await may_read_conversation(session=session, staff=staff, conversation_id=conversation_id):
        return True
    found = await session.execute(
        select(Ticket.id)
        .where(Ticket.conversation_id == conversation_id, ticket_condition(staff))
        .limit(1)
    )
    return found.scalar_one_or_none() is not None
