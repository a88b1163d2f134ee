"""The agents' side of a handoff: queue, claim, escalate, transfer, hand back, resolve.

Thin: each route checks who is asking and calls the handoff desk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import select

from api.deps import CurrentStaff, DeskDep, PresenceDep, SessionDep
from api.models import Agent, Conversation, Ticket
from api.schemas.agents import Skill
from api.schemas.customers import CustomerPublic
from api.schemas.handoffs import (
    ConversationView,
    EscalateRequest,
    HandoffPublic,
    NoteCreate,
    NotePublic,
    QueuePage,
    TicketBrief,
    TransferRequest,
)
from api.schemas.types import Int64
from api.services import access, conversations, customers, handoffs
from api.services.staff import Staff
from bot.vocabulary import Language

router = APIRouter(tags=["handoffs"])
ConversationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@asynccontextmanager
async def _as_http_errors() -> AsyncIterator[None]:
    try:
        yield
    except handoffs.HandoffError as error:
        raise HTTPException(status_code=error.status_code, detail=error.detail) from None


async def _agent(session: SessionDep, staff: Staff) -> Agent:
    agent = await session.get(Agent, staff.id) if staff.id is not None else None
    if agent is None:
        raise HTTPException(status_code=403, detail="Only signed-in agents can take chats.")
    return agent


@router.get(
    "/handoffs/queue",
    response_model=list[HandoffPublic],
    summary="Chats waiting for a person, routed to me",
)
async def queue(
    session: SessionDep, staff: CurrentStaff, presence: PresenceDep
) -> list[HandoffPublic]:
    online = await presence.online()
    waiting = await handoffs.waiting_for(session=session, staff=staff, online=online)
    titles = await handoffs.queue_titles(
        session=session, conversation_ids=[h.conversation_id for h in waiting]
    )
    return [titled(h, titles) for h in waiting]


@router.get(
    "/handoffs/queue/page",
    response_model=QueuePage,
    summary="The queue filtered (skill, tier, language, waiting time), sorted and paged",
)
async def queue_page(
    session: SessionDep,
    staff: CurrentStaff,
    presence: PresenceDep,
    skill: Optional[Skill] = None,
    tier: Annotated[Optional[int], Query(ge=2, le=3)] = None,
    language: Optional[Language] = None,
    min_wait_seconds: Annotated[Optional[float], Query(ge=0, le=86400 * 7)] = None,
    sort: Literal["priority", "longest_wait", "newest"] = "priority",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> QueuePage:
    online = await presence.online()
    waiting = await handoffs.waiting_for(session=session, staff=staff, online=online)
    chosen = handoffs.filter_queue(
        waiting,
        skill=skill,
        tier=tier,
        min_wait_seconds=min_wait_seconds,
        language=language,
        sort=sort,
    )
    page = chosen[offset : offset + limit]
    titles = await handoffs.queue_titles(
        session=session, conversation_ids=[h.conversation_id for h in page]
    )
    return QueuePage(
        items=[titled(h, titles) for h in page], total=len(chosen), limit=limit, offset=offset
    )


def titled(handoff: Any, titles: dict[str, str]) -> HandoffPublic:
    public = HandoffPublic.model_validate(handoff)
    public.title = titles.get(handoff.conversation_id, "")
    return public


@router.get("/handoffs/mine", response_model=list[HandoffPublic], summary="My active chats")
async def mine(session: SessionDep, staff: CurrentStaff) -> list[HandoffPublic]:
    if staff.id is None:
        return []
    active = await handoffs.active_for(session=session, agent_id=staff.id)
    return [HandoffPublic.model_validate(h) for h in active]


@router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=HandoffPublic,
    summary="Take a waiting chat (exactly one of two simultaneous claims wins)",
)
async def claim(
    handoff_id: Int64, session: SessionDep, staff: CurrentStaff, desk: DeskDep
) -> HandoffPublic:
    agent = await _agent(session, staff)
    async with _as_http_errors():
        return HandoffPublic.model_validate(await desk.claim(handoff_id=handoff_id, agent=agent))


@router.post(
    "/handoffs/{handoff_id}/escalate",
    response_model=HandoffPublic,
    summary="Escalate to tier 3 with a note",
)
async def escalate(
    handoff_id: Int64, body: EscalateRequest, staff: CurrentStaff, desk: DeskDep
) -> HandoffPublic:
    async with _as_http_errors():
        handoff = await desk.escalate(handoff_id=handoff_id, staff=staff, note=body.note)
    return HandoffPublic.model_validate(handoff)


@router.post(
    "/handoffs/{handoff_id}/transfer",
    response_model=HandoffPublic,
    summary="Transfer to another skill's queue or to a named agent",
)
async def transfer(
    handoff_id: Int64, body: TransferRequest, staff: CurrentStaff, desk: DeskDep
) -> HandoffPublic:
    async with _as_http_errors():
        handoff = await desk.transfer(
            handoff_id=handoff_id,
            staff=staff,
            note=body.note,
            skill=body.skill,
            agent_id=body.agent_id,
        )
    return HandoffPublic.model_validate(handoff)


@router.post(
    "/handoffs/{handoff_id}/hand-back",
    response_model=HandoffPublic,
    summary="Hand the chat back to the assistant",
)
async def hand_back(handoff_id: Int64, staff: CurrentStaff, desk: DeskDep) -> HandoffPublic:
    async with _as_http_errors():
        return HandoffPublic.model_validate(
            await desk.hand_back(handoff_id=handoff_id, staff=staff)
        )


@router.post(
    "/handoffs/{handoff_id}/resolve",
    response_model=HandoffPublic,
    summary="Resolve and close the chat; the customer is asked for a rating",
)
async def resolve(handoff_id: Int64, staff: CurrentStaff, desk: DeskDep) -> HandoffPublic:
    async with _as_http_errors():
        return HandoffPublic.model_validate(await desk.resolve(handoff_id=handoff_id, staff=staff))


async def readable_conversation(session: SessionDep, staff: Staff, conversation_id: str):
    """The conversation if this person may read it (api/services/access.py)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(status_code=404, detail="There is no such conversation.")
    handoff = await handoffs.latest_handoff(session=session, conversation_id=conversation_id)
    if not await access.may_read_conversation(
        session=session, staff=staff, conversation_id=conversation_id
    ):
        # 404, not 403: whether a conversation exists is not for everyone to learn.
        raise HTTPException(status_code=404, detail="There is no such conversation.")
    return conversation, handoff


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationView,
    summary="Transcript, summary, notes and tickets of a chat",
)
async def view_conversation(
    conversation_id: ConversationId, session: SessionDep, staff: CurrentStaff
) -> ConversationView:
    conversation, handoff = await readable_conversation(session, staff, conversation_id)
    messages = await conversations.history(session=session, conversation_id=conversation_id)
    notes = await handoffs.notes_for(session=session, conversation_id=conversation_id)
    found = await session.execute(
        select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id)
    )
    # Identified in the chat (account or e-mail plus postcode): services, devices, tier.
    customer = await customers.customer_for_conversation(
        session=session, conversation_id=conversation_id
    )
    return ConversationView(
        conversation_id=conversation_id,
        owner=conversation.owner,
        language=conversation.language,
        handoff=HandoffPublic.model_validate(handoff) if handoff else None,
        messages=[conversations.message_frame(m) for m in messages],
        notes=[NotePublic.model_validate(n) for n in notes],
        tickets=[
            TicketBrief(
                number=t.number,
                title=t.title,
                status=t.status,
                domain=t.domain,
                contact=t.contact,
            )
            for t in found.scalars().all()
        ],
        customer=CustomerPublic.model_validate(customer).model_dump(mode="json")
        if customer is not None
        else None,
    )


@router.post(
    "/conversations/{conversation_id}/notes",
    response_model=NotePublic,
    status_code=201,
    summary="Add an internal note the customer never sees",
)
async def add_note(
    conversation_id: ConversationId,
    body: NoteCreate,
    session: SessionDep,
    staff: CurrentStaff,
    desk: DeskDep,
) -> NotePublic:
    await readable_conversation(session, staff, conversation_id)
    async with _as_http_errors():
        frame = await desk.add_note(conversation_id=conversation_id, staff=staff, text=body.text)
    return NotePublic(
        id=frame["id"], author=frame["author"], text=frame["text"], created_at=frame["created_at"]
    )
