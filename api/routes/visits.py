"""Technician visits (staff only): availability, booking, rescheduling, cancelling."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Header, Query
from sqlalchemy import select

from api.deps import CurrentStaff, SessionDep
from api.models import Technician
from api.schemas.pages import Page
from api.schemas.types import INT64_MAX, Int64
from api.schemas.visits import (
    SlotPublic,
    TechnicianPublic,
    VisitCreate,
    VisitPublic,
    VisitReschedule,
)
from api.services import customers, tickets, visits

router = APIRouter(tags=["visits"])
IdempotencyKey = Annotated[Optional[str], Header(alias="Idempotency-Key", max_length=80)]
TAKEN = {409: {"description": "the slot was just taken; `next_slots` lists free ones"}}


def _slot(slot: visits.Slot) -> SlotPublic:
    return SlotPublic(
        ref=slot.ref,
        technician_id=slot.technician_id,
        technician_name=slot.technician_name,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        label=slot.label,
    )


@router.get("/technicians", response_model=list[TechnicianPublic], summary="Technicians")
async def list_technicians(
    session: SessionDep, staff: CurrentStaff, service_area: Optional[str] = None
) -> list[TechnicianPublic]:
    query = select(Technician).order_by(Technician.id)
    if service_area:
        query = query.where(Technician.service_area == service_area)
    rows = await session.execute(query)
    return [TechnicianPublic.model_validate(t) for t in rows.scalars().all()]


@router.get(
    "/visits/slots",
    response_model=list[SlotPublic],
    summary="The next free technician slots in a service area",
    responses={404: {"description": "There is no such service area."}},
)
async def free_slots(
    service_area: str,
    session: SessionDep,
    staff: CurrentStaff,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[SlotPublic]:
    found = await visits.free_slots(session=session, service_area=service_area, limit=limit)
    return [_slot(s) for s in found]


@router.post(
    "/visits",
    response_model=VisitPublic,
    status_code=201,
    summary="Book a visit (exactly one booking per technician and slot)",
    responses={**TAKEN, 404: {"description": "There is no such customer or technician."}},
)
async def book_visit(
    body: VisitCreate,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> VisitPublic:
    customer = await customers.get_customer(session=session, customer_id=body.customer_id)
    ticket = None
    if body.ticket_number:
        ticket = await tickets.require_ticket(session=session, number=body.ticket_number)
    booking = await visits.book_visit(
        session=session,
        customer=customer,
        technician_id=body.technician_id,
        starts_at=body.starts_at,
        ticket=ticket,
        actor=staff.name,
        idempotency_key=idempotency_key,
    )
    return VisitPublic.model_validate(booking)


@router.get("/visits", response_model=Page[VisitPublic], summary="List visits")
async def list_visits(
    session: SessionDep,
    staff: CurrentStaff,
    customer_id: Optional[Int64] = None,
    technician_id: Optional[Int64] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Page[VisitPublic]:
    rows, total = await visits.list_bookings(
        session=session,
        customer_id=customer_id,
        technician_id=technician_id,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[VisitPublic.model_validate(v) for v in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/visits/{visit_id}", response_model=VisitPublic, summary="One visit")
async def get_visit(visit_id: Int64, session: SessionDep, staff: CurrentStaff) -> VisitPublic:
    return VisitPublic.model_validate(
        await visits.get_booking(session=session, booking_id=visit_id)
    )


@router.post(
    "/visits/{visit_id}/reschedule",
    response_model=VisitPublic,
    summary="Move a visit to another slot (the old slot is freed)",
    responses=TAKEN,
)
async def reschedule_visit(
    visit_id: Int64,
    body: VisitReschedule,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> VisitPublic:
    booking = await visits.get_booking(session=session, booking_id=visit_id)
    new = await visits.reschedule_visit(
        session=session,
        booking=booking,
        technician_id=body.technician_id,
        starts_at=body.starts_at,
        actor=staff.name,
        idempotency_key=idempotency_key,
    )
    return VisitPublic.model_validate(new)


@router.post("/visits/{visit_id}/cancel", response_model=VisitPublic, summary="Cancel a visit")
async def cancel_visit(visit_id: Int64, session: SessionDep, staff: CurrentStaff) -> VisitPublic:
    booking = await visits.get_booking(session=session, booking_id=visit_id)
    await visits.cancel_visit(session=session, booking=booking, actor=staff.name)
    return VisitPublic.model_validate(booking)
