"""Replacement parts (staff only): catalogue, quotes, orders and their status."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Optional

from fastapi import APIRouter, Header, Query

from api.deps import CurrentStaff, SessionDep
from api.schemas.pages import Page
from api.schemas.parts import (
    PartOrderCreate,
    PartOrderPublic,
    PartOrderUpdate,
    PartPublic,
    QuotePublic,
)
from api.schemas.types import INT64_MAX, Int64
from api.services import catalog, customers, parts, tickets
from api.services.errors import NotFound

router = APIRouter(tags=["parts"])
IdempotencyKey = Annotated[Optional[str], Header(alias="Idempotency-Key", max_length=80)]


@router.get("/parts", response_model=list[PartPublic], summary="The parts catalogue")
async def list_parts(staff: CurrentStaff) -> list[PartPublic]:
    return [PartPublic.model_validate(p) for p in catalog.parts().values()]


@router.get(
    "/parts/{part_number}/quote",
    response_model=QuotePublic,
    summary="Would this part fit the customer's device, is it in stock, what would it cost?",
)
async def quote_part(
    part_number: str,
    customer_id: Int64,
    session: SessionDep,
    staff: CurrentStaff,
    device_id: Optional[Int64] = None,
) -> QuotePublic:
    if catalog.find_part(part_number) is None:
        raise NotFound(f"There is no part {part_number} in the catalogue.")
    customer = await customers.get_customer(session=session, customer_id=customer_id)
    quote = await parts.quote(
        session=session, customer=customer, part_number=part_number, device_id=device_id
    )
    return QuotePublic(
        result=quote.result,  # type: ignore[arg-type]
        part_number=quote.part.part_number if quote.part else None,
        device_id=quote.device.id if quote.device else None,
        price=Decimal(quote.price_cents).scaleb(-2),
        alternative=quote.alternative.part_number if quote.alternative else None,
        reason=quote.reason,
    )


@router.post(
    "/part-orders",
    response_model=PartOrderPublic,
    status_code=201,
    summary="Order a part for a customer (send an Idempotency-Key to make retries safe)",
    responses={
        404: {"description": "unknown customer, part or ticket"},
        409: {"description": "the part does not fit or is out of stock (alternative given)"},
        422: {"description": "out of warranty and the price was not accepted"},
    },
)
async def order_part(
    body: PartOrderCreate,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> PartOrderPublic:
    customer = await customers.get_customer(session=session, customer_id=body.customer_id)
    ticket = None
    if body.ticket_number:
        ticket = await tickets.require_ticket(session=session, number=body.ticket_number)
    order = await parts.place_order(
        session=session,
        customer=customer,
        part_number=body.part_number,
        device_id=body.device_id,
        shipping_address=body.shipping_address,
        accepted_price_cents=int(body.accepted_price * 100)
        if body.accepted_price is not None
        else None,
        ticket=ticket,
        actor=staff.name,
        idempotency_key=idempotency_key,
    )
    return PartOrderPublic.model_validate(order)


@router.get("/part-orders", response_model=Page[PartOrderPublic], summary="List part orders")
async def list_orders(
    session: SessionDep,
    staff: CurrentStaff,
    customer_id: Optional[Int64] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Page[PartOrderPublic]:
    rows, total = await parts.list_orders(
        session=session, customer_id=customer_id, limit=limit, offset=offset
    )
    return Page(
        items=[PartOrderPublic.model_validate(o) for o in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/part-orders/{order_id}", response_model=PartOrderPublic, summary="One order")
async def get_order(order_id: Int64, session: SessionDep, staff: CurrentStaff) -> PartOrderPublic:
    return PartOrderPublic.model_validate(await parts.get_order(session=session, order_id=order_id))


@router.patch(
    "/part-orders/{order_id}",
    response_model=PartOrderPublic,
    summary="Mark an order shipped, delivered or cancelled",
)
async def update_order(
    order_id: Int64, body: PartOrderUpdate, session: SessionDep, staff: CurrentStaff
) -> PartOrderPublic:
    order = await parts.get_order(session=session, order_id=order_id)
    await parts.change_order_status(session=session, order=order, to=body.status, actor=staff.name)
    return PartOrderPublic.model_validate(order)
