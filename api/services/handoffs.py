"""Handoffs to people: the queue, routing, claiming, escalation, transfer, hand back.

Pure database logic; api/services/handoff_desk.py adds the notifications.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import (
    OPEN_HANDOFF_STATUSES,
    Agent,
    Conversation,
    ConversationOwner,
    Customer,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    InternalNote,
    Message,
    Rating,
    Sender,
)
from api.services.search import first_words
from api.services.staff import Staff
from bot.wording import say

PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
LANGUAGE_NAMES = {"en": "English", "de": "German"}
DEFAULT_WAIT_SECONDS = 180.0


class HandoffError(Exception):
    """A handoff operation that cannot be done; `status_code` says why."""

    status_code = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class HandoffNotFound(HandoffError):
    status_code = 404


class NotYours(HandoffError):
    status_code = 403


def _now() -> datetime:
    return datetime.now(timezone.utc)


def routes_to(staff: Staff, handoff: Handoff) -> bool:
    """Whether the queue entry is for this person: their tier and skills, or a supervisor."""
    if staff.is_supervisor:
        return True
    return staff.tier >= handoff.tier and handoff.skill in staff.skills


def staff_for(agent: Agent) -> Staff:
    return Staff(
        id=agent.id,
        name=agent.name,
        role=agent.role,
        tier=agent.tier,
        skills=tuple(agent.skills or ()),
        languages=tuple(agent.languages or ("en",)),
        capacity=agent.capacity,
    )


def speakers_available(
    handoff: Handoff, online: Sequence[Staff], loads: Mapping[int, int]
) -> list[Staff]:
    """Online agents (not supervisors) who could take the chat now in the customer's language.

    "Could take": their tier and skills match and they have a free place
    (`loads`: each agent's number of active chats).
    """
    return [
        staff
        for staff in online
        if not staff.is_supervisor
        and staff.id is not None
        and staff.speaks(handoff.language)
        and routes_to(staff, handoff)
        and loads.get(staff.id, 0) < staff.capacity
    ]


def offered_to(
    staff: Staff, handoff: Handoff, online: Sequence[Staff], loads: Mapping[int, int]
) -> bool:
    """Whether a waiting chat is offered to this person, with the language preference.

    A chat goes to the agents of its tier and skills (`routes_to`). Of those, an
    agent who speaks the customer's language is preferred: while one is online
    with a free place, the chat is offered to such agents only. Otherwise every
    agent of the tier and skills sees it. Supervisors see every chat.
    """
    if not routes_to(staff, handoff):
        return False
    if staff.is_supervisor or staff.speaks(handoff.language):
        return True
    return not speakers_available(handoff, online, loads)


async def _event(
    session: AsyncSession, handoff: Handoff, kind: str, staff: Optional[Staff], detail: str = ""
) -> None:
    session.add(
        HandoffEvent(
            handoff_id=handoff.id, kind=kind, agent_id=staff.id if staff else None, detail=detail
        )
    )


async def _set_owner(session: AsyncSession, conversation_id: str, owner: ConversationOwner) -> None:
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(owner=owner.value, updated_at=_now())
    )


async def open_handoff_for(*, session: AsyncSession, conversation_id: str) -> Optional[Handoff]:
    result = await session.execute(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status.in_(OPEN_HANDOFF_STATUSES),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def request_handoff(
    *,
    session: AsyncSession,
    conversation_id: str,
    reason: str,
    tier: int = 2,
    skill: str = "other",
    priority: str = "normal",
    summary: str = "",
) -> tuple[Handoff, bool]:
    """Queue the conversation for a person. Returns the handoff and whether it is new."""
    existing = await open_handoff_for(session=session, conversation_id=conversation_id)
    if existing is not None:
        return existing, False
    handoff = Handoff(
        conversation_id=conversation_id,
        status=HandoffStatus.waiting.value,
        reason=reason[:40],
        tier=tier if tier in (2, 3) else 2,
        skill=skill,
        priority=priority,
        summary=summary,
        waiting_since=_now(),
    )
    session.add(handoff)
    await session.flush()
    await session.refresh(handoff, attribute_names=["language"])
    await _event(session, handoff, "queued", None, reason)
    await _set_owner(session, conversation_id, ConversationOwner.queued)
    return handoff, True


async def get_handoff(*, session: AsyncSession, handoff_id: int) -> Handoff:
    handoff = await session.get(Handoff, handoff_id)
    if handoff is None:
        raise HandoffNotFound(f"There is no handoff {handoff_id}.")
    return handoff


async def queue_position(*, session: AsyncSession, handoff: Handoff) -> int:
    """1 for the next customer an agent of this tier and skill will take."""
    ahead = await session.execute(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.status == HandoffStatus.waiting.value,
            Handoff.skill == handoff.skill,
            Handoff.tier == handoff.tier,
            Handoff.waiting_since < handoff.waiting_since,
        )
    )
    return int(ahead.scalar_one()) + 1


async def typical_wait_seconds(*, session: AsyncSession) -> float:
    """The average wait of the last 20 customers an agent picked up."""
    result = await session.execute(
        select(Handoff.waiting_since, Handoff.claimed_at)
        .where(Handoff.claimed_at.is_not(None))
        .order_by(Handoff.claimed_at.desc())
        .limit(20)
    )
    waits = [
        (claimed - waiting).total_seconds()
        for waiting, claimed in result.all()
        if claimed is not None and waiting is not None
    ]
    return sum(waits) / len(waits) if waits else DEFAULT_WAIT_SECONDS


async def active_loads(*, session: AsyncSession) -> dict[int, int]:
    """How many chats each agent has now."""
    loads = await session.execute(
        select(Handoff.agent_id, func.count())
        .where(Handoff.status == HandoffStatus.active.value)
        .group_by(Handoff.agent_id)
    )
    return {int(agent_id): int(count) for agent_id, count in loads.all() if agent_id is not None}


async def waiting_for(
    *, session: AsyncSession, staff: Staff, online: Sequence[Staff] = ()
) -> list[Handoff]:
    """The queue as this person sees it: what is offered to them, most urgent and oldest first.

    `online`: the agents online now, for the language preference (`offered_to`).
    """
    result = await session.execute(
        select(Handoff)
        .where(Handoff.status == HandoffStatus.waiting.value)
        .order_by(Handoff.waiting_since)
    )
    waiting = list(result.scalars().all())
    loads = await active_loads(session=session) if waiting and online else {}
    visible = [h for h in waiting if offered_to(staff, h, online, loads)]
    return sorted(visible, key=lambda h: (PRIORITY_ORDER.get(h.priority, 2), h.waiting_since))


async def active_for(*, session: AsyncSession, agent_id: int) -> list[Handoff]:
    result = await session.execute(
        select(Handoff)
        .where(Handoff.status == HandoffStatus.active.value, Handoff.agent_id == agent_id)
        .order_by(Handoff.claimed_at)
    )
    return list(result.scalars().all())


async def claim(
    *, session: AsyncSession, handoff_id: int, agent: Agent, online: Sequence[Staff] = ()
) -> Handoff:
    """Give the handoff to the agent. Of two agents claiming at once, exactly one wins.

    `online`: the agents online now. While one who speaks the customer's
    language could take the chat, an agent who does not speak it cannot.
    """
    handoff = await get_handoff(session=session, handoff_id=handoff_id)
    staff = staff_for(agent)
    if not routes_to(staff, handoff):
        raise NotYours("This chat is routed to another tier or skill.")
    if handoff.status == HandoffStatus.waiting.value and not offered_to(
        staff, handoff, online, await active_loads(session=session) if online else {}
    ):
        raise NotYours(
            f"This customer writes {LANGUAGE_NAMES.get(handoff.language, handoff.language)}, "
            "and a colleague who speaks it is free to take the chat."
        )
    load = len(await active_for(session=session, agent_id=agent.id))
    if load >= agent.capacity:
        raise HandoffError(f"You already have {load} chats, your capacity.")
    # The status condition makes the update atomic: only one claim can match it.
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.waiting.value)
        .values(status=HandoffStatus.active.value, agent_id=agent.id, claimed_at=_now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise HandoffError("Another agent has already taken this chat.")
    await session.refresh(handoff)
    await _event(session, handoff, "claimed", staff)
    await _set_owner(session, handoff.conversation_id, ConversationOwner.agent)
    return handoff


def _require_holder(handoff: Handoff, staff: Staff) -> None:
    if handoff.status != HandoffStatus.active.value:
        raise HandoffError(f"This chat is {handoff.status}, not with an agent.")
    if handoff.agent_id != staff.id and not staff.is_supervisor:
        raise NotYours("Only the agent who has this chat, or a supervisor, can do that.")


async def add_note(
    *, session: AsyncSession, conversation_id: str, staff: Staff, text: str
) -> InternalNote:
    text = text.strip()
    if not text:
        raise HandoffError("A note needs some text.")
    note = InternalNote(
        conversation_id=conversation_id, agent_id=staff.id, author=staff.name, text=text[:4000]
    )
    session.add(note)
    await session.flush()
    return note


async def escalate(*, session: AsyncSession, handoff_id: int, staff: Staff, note: str) -> Handoff:
    """Back into the queue for tier 3, with a note for the specialist."""
    handoff = await get_handoff(session=session, handoff_id=handoff_id)
    _require_holder(handoff, staff)
    if handoff.tier == 3:
        raise HandoffError("This chat is already with tier 3.")
    handoff.tier = 3
    handoff.status = HandoffStatus.waiting.value
    handoff.agent_id = None
    handoff.waiting_since = _now()
    handoff.claimed_at = None
    await _event(session, handoff, "escalated", staff, note)
    if note.strip():
        await add_note(
            session=session,
            conversation_id=handoff.conversation_id,
            staff=staff,
            text=say("record.handoff.escalated", note=note),
        )
    await _set_owner(session, handoff.conversation_id, ConversationOwner.queued)
    return handoff


async def transfer(
    *,
    session: AsyncSession,
    handoff_id: int,
    staff: Staff,
    note: str,
    skill: Optional[str] = None,
    agent: Optional[Agent] = None,
) -> Handoff:
    """To another skill's queue, or straight to a named agent."""
    handoff = await get_handoff(session=session, handoff_id=handoff_id)
    _require_holder(handoff, staff)
    if (skill is None) == (agent is None):
        raise HandoffError("Transfer to either a skill or an agent.")
    if agent is not None:
        if not agent.active:
            raise HandoffError(f"{agent.name} is not active.")
        if agent.id == handoff.agent_id:
            raise HandoffError("This chat is already with that agent.")
        load = len(await active_for(session=session, agent_id=agent.id))
        if load >= agent.capacity:
            raise HandoffError(f"{agent.name} is at capacity.")
        handoff.agent_id = agent.id
        handoff.claimed_at = _now()
        detail = f"to {agent.name}"
    else:
        handoff.skill = str(skill)
        handoff.status = HandoffStatus.waiting.value
        handoff.agent_id = None
        handoff.waiting_since = _now()
        handoff.claimed_at = None
        await _set_owner(session, handoff.conversation_id, ConversationOwner.queued)
        detail = say("record.handoff.to_queue", skill=skill)
    await _event(session, handoff, "transferred", staff, f"{detail}: {note}".strip(": "))
    if note.strip():
        await add_note(
            session=session,
            conversation_id=handoff.conversation_id,
            staff=staff,
            text=f"Transferred {detail}: {note}",
        )
    return handoff


async def hand_back(*, session: AsyncSession, handoff_id: int, staff: Staff) -> Handoff:
    handoff = await get_handoff(session=session, handoff_id=handoff_id)
    _require_holder(handoff, staff)
    handoff.status = HandoffStatus.returned.value
    handoff.ended_at = _now()
    await _event(session, handoff, "returned", staff)
    await _set_owner(session, handoff.conversation_id, ConversationOwner.bot)
    return handoff


async def leave_queue(*, session: AsyncSession, conversation_id: str) -> Optional[Handoff]:
    """The customer goes back to the assistant before anyone took the chat. The
    handoff ends as handed back to the assistant (by the customer, not an agent);
    None when the chat is not waiting in the queue."""
    handoff = await open_handoff_for(session=session, conversation_id=conversation_id)
    if handoff is None or handoff.status != HandoffStatus.waiting.value:
        return None
    # As in `claim`: of the customer leaving and an agent claiming at once, one wins.
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status == HandoffStatus.waiting.value)
        .values(status=HandoffStatus.returned.value, ended_at=_now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    await session.refresh(handoff)
    await _event(session, handoff, "left_queue", None)
    await _set_owner(session, handoff.conversation_id, ConversationOwner.bot)
    return handoff


async def resolve(*, session: AsyncSession, handoff_id: int, staff: Staff) -> Handoff:
    handoff = await get_handoff(session=session, handoff_id=handoff_id)
    _require_holder(handoff, staff)
    handoff.status = HandoffStatus.resolved.value
    handoff.ended_at = _now()
    await _event(session, handoff, "resolved", staff)
    await _set_owner(session, handoff.conversation_id, ConversationOwner.closed)
    # The customer is asked for a rating now (api/services/handoff_desk.py).
    await claim_rating_request(session=session, conversation_id=handoff.conversation_id)
    return handoff


async def claim_rating_request(
    *, session: AsyncSession, conversation_id: str, bot_only: bool = False
) -> bool:
    """Whether to ask the customer for a rating now: True once per conversation.

    `bot_only`: only a conversation no person ever took part in (no handoff),
    and not rated already (the customer can rate from "End chat" any time).
    """
    conditions = [Conversation.id == conversation_id, Conversation.rating_requested_at.is_(None)]
    if bot_only:
        conditions.append(~exists().where(Handoff.conversation_id == conversation_id))
        conditions.append(~exists().where(Rating.conversation_id == conversation_id))
    result = await session.execute(
        update(Conversation)
        .where(*conditions)
        .values(rating_requested_at=_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def record_rating(
    *, session: AsyncSession, conversation_id: str, score: int, comment: str
) -> Rating:
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise HandoffError("The rating must be a whole number from 1 to 5.")
    existing = await session.execute(
        select(Rating).where(Rating.conversation_id == conversation_id)
    )
    rating = existing.scalar_one_or_none()
    if rating is None:
        rating = Rating(conversation_id=conversation_id, score=score, comment=comment[:2000])
        session.add(rating)
    else:
        rating.score, rating.comment = score, comment[:2000]
    await session.flush()
    return rating


async def notes_for(*, session: AsyncSession, conversation_id: str) -> list[InternalNote]:
    result = await session.execute(
        select(InternalNote)
        .where(InternalNote.conversation_id == conversation_id)
        .order_by(InternalNote.id)
    )
    return list(result.scalars().all())


async def latest_handoff(*, session: AsyncSession, conversation_id: str) -> Optional[Handoff]:
    result = await session.execute(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


@dataclass
class QueueOverview:
    skill: str
    tier: int
    waiting: int
    longest_wait_seconds: float


async def overview(*, session: AsyncSession) -> tuple[list[QueueOverview], dict[int, int]]:
    """For supervisors: every queue with its length and longest wait, and each agent's load."""
    waiting = await session.execute(
        select(Handoff).where(Handoff.status == HandoffStatus.waiting.value)
    )
    queues: dict[tuple[str, int], QueueOverview] = {}
    now = _now()
    for handoff in waiting.scalars().all():
        key = (handoff.skill, handoff.tier)
        entry = queues.setdefault(key, QueueOverview(handoff.skill, handoff.tier, 0, 0.0))
        entry.waiting += 1
        entry.longest_wait_seconds = max(
            entry.longest_wait_seconds, (now - handoff.waiting_since).total_seconds()
        )
    loads = await active_loads(session=session)
    return sorted(queues.values(), key=lambda q: (q.skill, q.tier)), loads


async def queue_titles(*, session: AsyncSession, conversation_ids: list[str]) -> dict[str, str]:
    """How each chat is named in the console's lists: the customer's name, or their
    first words cut at a word boundary."""
    if not conversation_ids:
        return {}
    names = dict(
        (
            await session.execute(
                select(Conversation.id, Customer.name)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Conversation.id.in_(conversation_ids))
            )
        ).all()
    )
    firsts = dict(
        (
            await session.execute(
                select(Message.conversation_id, Message.text).where(
                    Message.id.in_(
                        select(func.min(Message.id))
                        .where(
                            Message.conversation_id.in_(conversation_ids),
                            Message.sender == Sender.customer.value,
                            Message.payload.is_(None),
                        )
                        .group_by(Message.conversation_id)
                    )
                )
            )
        ).all()
    )
    titles = {}
    for conversation_id in conversation_ids:
        title = names.get(conversation_id) or first_words(firsts.get(conversation_id) or "", 48)
        titles[conversation_id] = title or say("record.new_customer")
    return titles


QUEUE_SORTS = ("priority", "longest_wait", "newest")


def filter_queue(
    waiting: list[Handoff],
    *,
    skill: Optional[str] = None,
    tier: Optional[int] = None,
    min_wait_seconds: Optional[float] = None,
    language: Optional[str] = None,
    sort: str = "priority",
) -> list[Handoff]:
    """The queue narrowed by skill, tier, waiting time and language, in the chosen order."""
    now = _now()
    chosen = [
        h
        for h in waiting
        if (skill is None or h.skill == skill)
        and (tier is None or h.tier == tier)
        and (
            min_wait_seconds is None or (now - h.waiting_since).total_seconds() >= min_wait_seconds
        )
        and (language is None or h.language == language)
    ]
    if sort == "longest_wait":
        return sorted(chosen, key=lambda h: h.waiting_since)
    if sort == "newest":
        return sorted(chosen, key=lambda h: h.waiting_since, reverse=True)
    return sorted(chosen, key=lambda h: (PRIORITY_ORDER.get(h.priority, 2), h.waiting_since))
