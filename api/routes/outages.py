"""Known outages (staff and operators): the bot tells affected customers about them."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Header, Query

from api.deps import CurrentStaff, SessionDep
from api.schemas.outages import OutageCreate, OutagePublic, OutageUpdate
from api.schemas.pages import Page
from api.schemas.types import INT64_MAX, Int64
from api.services import outages

router = APIRouter(tags=["outages"])
IdempotencyKey = Annotated[Optional[str], Header(alias="Idempotency-Key", max_length=80)]


@router.post(
    "/outages",
    response_model=OutagePublic,
    status_code=201,
    summary="Report a known outage",
    responses={404: {"description": "There is no such service area."}},
)
async def create_outage(
    body: OutageCreate,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> OutagePublic:
    outage = await outages.create_outage(
        session=session,
        service_area=body.service_area,
        description=body.description,
        service=body.service,
        starts_at=body.starts_at,
        expected_end=body.expected_end,
        actor=staff.name,
        idempotency_key=idempotency_key,
    )
    return OutagePublic.model_validate(outage)


@router.get("/outages", response_model=Page[OutagePublic], summary="List outages")
async def list_outages(
    session: SessionDep,
    staff: CurrentStaff,
    service_area: Optional[str] = None,
    active: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Page[OutagePublic]:
    rows, total = await outages.list_outages(
        session=session, service_area=service_area, active_only=active, limit=limit, offset=offset
    )
    return Page(
        items=[OutagePublic.model_validate(o) for o in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.patch(
    "/outages/{outage_id}",
    response_model=OutagePublic,
    summary="Update the expected end or description, or end the outage",
)
async def update_outage(
    outage_id: Int64, body: OutageUpdate, session: SessionDep, staff: CurrentStaff
) -> OutagePublic:
    outage = await outages.get_outage(session=session, outage_id=outage_id)
    await outages.update_outage(
        session=session,
        outage=outage,
        expected_end=body.expected_end,
        description=body.description,
        ended=body.ended,
    )
    return OutagePublic.model_validate(outage)
