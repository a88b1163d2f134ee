"""Tickets (staff only): create, list, update along the lifecycle, history, transcript."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Header, HTTPException, Query

from api.deps import CurrentStaff, SessionDep
from api.models import Conversation, Customer, Ticket
from api.schemas.pages import Page
from api.schemas.tickets import (
    NoteCreate,
    Status,
    TicketCreate,
    TicketEventPublic,
    TicketPublic,
    TicketUpdate,
    Transcript,
)
from api.schemas.types import INT64_MAX, Int64
from api.services import access, conversations, tickets
from api.services.errors import NotFound

router = APIRouter(tags=["tickets"])
IdempotencyKey = Annotated[Optional[str], Header(alias="Idempotency-Key", max_length=80)]


async def ticket_from_path(number: str, session: SessionDep, staff: CurrentStaff) -> Ticket:
    """The ticket, if this person may read it (api/services/access.py); 404 otherwise."""
    ticket = await tickets.require_ticket(session=session, number=number)
    if not await access.may_read_ticket(session=session, staff=staff, ticket=ticket):
        raise NotFound(f"No ticket {number}.")
    return ticket


TicketDep = Annotated[Ticket, Depends(ticket_from_path)]


@router.post(
    "/tickets",
    response_model=TicketPublic,
    status_code=201,
    summary="Open a ticket",
    responses={404: {"description": "There is no such conversation or customer."}},
)
async def create_ticket(
    body: TicketCreate,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> TicketPublic:
    if body.customer_id is not None and await session.get(Customer, body.customer_id) is None:
        raise NotFound(f"No customer {body.customer_id}.")
    if body.conversation_id and await session.get(Conversation, body.conversation_id) is None:
        raise NotFound(f"No conversation {body.conversation_id}.")
    ticket = await tickets.open_ticket(
        session=session,
        conversation_id=body.conversation_id,
        customer_id=body.customer_id,
        domain=body.domain,
        title=body.title,
        summary=body.summary,
        tier=body.tier,
        priority=body.priority,
        status="new",
        actor=staff.name,
        idempotency_key=idempotency_key,
    )
    return TicketPublic.model_validate(ticket)


@router.get("/tickets", response_model=Page[TicketPublic], summary="List tickets, newest first")
async def list_tickets(
    session: SessionDep,
    staff: CurrentStaff,
    customer_id: Optional[Int64] = None,
    conversation_id: Optional[str] = None,
    status: Optional[Status] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Page[TicketPublic]:
    rows, total = await tickets.list_tickets(
        session=session,
        customer_id=customer_id,
        conversation_id=conversation_id,
        status=status,
        limit=limit,
        offset=offset,
        readable_by=staff,
    )
    return Page(
        items=[TicketPublic.model_validate(t) for t in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/tickets/{number}", response_model=TicketPublic, summary="One ticket")
async def get_ticket(staff: CurrentStaff, ticket: TicketDep) -> TicketPublic:
    return TicketPublic.model_validate(ticket)


@router.patch(
    "/tickets/{number}",
    response_model=TicketPublic,
    summary="Change status (valid transitions only), priority, tier, domain or summary",
    responses={409: {"description": "invalid transition from X to Y"}},
)
async def update_ticket(
    staff: CurrentStaff, body: TicketUpdate, ticket: TicketDep, session: SessionDep
) -> TicketPublic:
    await tickets.update_ticket(
        session=session,
        ticket=ticket,
        changes=body.model_dump(exclude_unset=True),
        actor=staff.name,
    )
    await session.refresh(ticket)
    return TicketPublic.model_validate(ticket)


@router.post(
    "/tickets/{number}/notes",
    response_model=TicketEventPublic,
    status_code=201,
    summary="Add a note to the ticket's history",
)
async def add_note(
    staff: CurrentStaff, body: NoteCreate, ticket: TicketDep, session: SessionDep
) -> TicketEventPublic:
    event = await tickets.record_event(
        session=session, ticket=ticket, kind="note", actor=staff.name, detail=body.text
    )
    return TicketEventPublic.model_validate(event)


@router.get(
    "/tickets/{number}/events",
    response_model=list[TicketEventPublic],
    summary="The ticket's audit history: who changed what, and when",
)
async def ticket_history(
    staff: CurrentStaff, ticket: TicketDep, session: SessionDep
) -> list[TicketEventPublic]:
    events = await tickets.ticket_events(session=session, ticket_id=ticket.id)
    return [TicketEventPublic.model_validate(e) for e in events]


@router.get(
    "/conversations/{conversation_id}/transcript",
    response_model=Transcript,
    summary="The whole chat behind a ticket",
)
async def transcript(conversation_id: str, session: SessionDep, staff: CurrentStaff) -> Transcript:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not await access.may_read_transcript(
        session=session, staff=staff, conversation_id=conversation_id
    ):
        raise HTTPException(status_code=404, detail="There is no such conversation.")
    messages = await conversations.history(session=session, conversation_id=conversation_id)
    return Transcript(
        conversation_id=conversation_id,
        customer_id=conversation.customer_id,
        messages=[conversations.message_frame(m) for m in messages],
    )
