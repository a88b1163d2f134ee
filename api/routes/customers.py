"""Customers and service areas (staff only): look-up and bulk import."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import CurrentStaff, SessionDep
from api.models import ServiceArea
from api.schemas.customers import (
    CustomerImportRequest,
    CustomerPublic,
    ImportResult,
    ServiceAreaPublic,
)
from api.schemas.pages import Page
from api.schemas.types import INT64_MAX, Int64
from api.services import customers

router = APIRouter(tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]


@router.get("/customers", response_model=Page[CustomerPublic], summary="List customers")
async def list_customers(
    session: SessionDep,
    staff: CurrentStaff,
    service_area: Optional[str] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CustomerPublic]:
    rows, total = await customers.list_customers(
        session=session, service_area=service_area, limit=limit, offset=offset
    )
    return Page(
        items=[CustomerPublic.model_validate(c) for c in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/customers/{customer_id}", response_model=CustomerPublic, summary="One customer")
async def get_customer(
    customer_id: Int64, session: SessionDep, staff: CurrentStaff
) -> CustomerPublic:
    return CustomerPublic.model_validate(
        await customers.get_customer(session=session, customer_id=customer_id)
    )


@router.post(
    "/customers/import",
    response_model=ImportResult,
    summary="Create or update customers and devices by account number (idempotent)",
)
async def import_customers(
    body: CustomerImportRequest, session: SessionDep, staff: CurrentStaff
) -> ImportResult:
    created, updated = await customers.import_customers(
        session=session, records=[c.model_dump() for c in body.customers]
    )
    return ImportResult(created=created, updated=updated)


@router.get("/service-areas", response_model=list[ServiceAreaPublic], summary="Service areas")
async def list_areas(session: SessionDep, staff: CurrentStaff) -> list[ServiceAreaPublic]:
    rows = await session.execute(select(ServiceArea).order_by(ServiceArea.code))
    return [ServiceAreaPublic.model_validate(a) for a in rows.scalars().all()]
