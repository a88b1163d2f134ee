"""Replacement parts: quotes (fit, warranty, stock) and orders linked to a ticket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Customer, Device, OrderStatus, PartOrder, Ticket
from api.services import catalog, tickets
from api.services.catalog import Part
from api.services.errors import Conflict, Invalid, NotFound
from bot.wording import say

# Words that ask for a part ("send me a new charger", „ich brauche ein neues Netzteil“);
# new batteries put in are something tried, not a part asked for.
_ASKS_FOR_PART = re.compile(
    r"\b(new|replacement|replace|send|order|ship|spare|another one|buy|need a|need one"
    r"|neu\w*|ersatz\w*|bestell\w*|schick\w*|austausch\w*|tauschen|kaufen|brauche)\b",
    re.IGNORECASE,
)
_NEW_BATTERIES = re.compile(r"\b(new|fresh|neue\w*|frische\w*)\s+batter\w*", re.IGNORECASE)


def asks_for_a_part(text: str) -> bool:
    """The message asks for a part to be sent, not only tells what broke."""
    return bool(_ASKS_FOR_PART.search(_NEW_BATTERIES.sub(" ", text or "")))


ORDER_TRANSITIONS = {
    "placed": {"shipped", "cancelled"},
    "shipped": {"delivered"},
    "delivered": set(),
    "cancelled": set(),
}


@dataclass
class Quote:
    """What ordering a part for this customer would mean.

    result: free (in warranty) | quote (customer pays `price_cents`) |
    incompatible | out_of_stock | unknown.
    """

    result: str
    part: Optional[Part] = None
    device: Optional[Device] = None
    price_cents: int = 0
    alternative: Optional[Part] = None
    reason: str = ""


async def units_reserved(*, session: AsyncSession, part_number: str) -> int:
    query = (
        select(func.count())
        .select_from(PartOrder)
        .where(
            PartOrder.part_number == part_number, PartOrder.status != OrderStatus.cancelled.value
        )
    )
    return int((await session.execute(query)).scalar_one())


async def in_stock(*, session: AsyncSession, part: Part) -> bool:
    # The catalogue's stock is what the warehouse had; every live order takes one unit.
    return part.stock - await units_reserved(session=session, part_number=part.part_number) > 0


def _fitting_device(customer: Customer, part: Part, device_id: Optional[int]) -> Optional[Device]:
    for device in customer.devices:
        if device_id is not None and device.id != device_id:
            continue
        if device.model in part.fits:
            return device
    return None


async def quote(
    *,
    session: AsyncSession,
    customer: Customer,
    part_number: str,
    device_id: Optional[int] = None,
    today: Optional[date] = None,
) -> Quote:
    today = today or date.today()
    part = catalog.find_part(part_number)
    if part is None:
        return Quote("unknown", reason=say("record.part.unknown", part=part_number))
    alternative = catalog.find_part(part.alternative) if part.alternative else None
    if alternative is not None and (
        _fitting_device(customer, alternative, device_id) is None
        or not await in_stock(session=session, part=alternative)
    ):
        alternative = None
    device = _fitting_device(customer, part, device_id)
    if device is None:
        models = ", ".join(d.model for d in customer.devices) or say("record.part.no_devices")
        return Quote(
            "incompatible",
            part=part,
            alternative=alternative,
            reason=say("record.part.does_not_fit", part=part.name, models=models),
        )
    if not await in_stock(session=session, part=part):
        return Quote(
            "out_of_stock",
            part=part,
            device=device,
            alternative=alternative,
            reason=say("record.part.out_of_stock", part=part.name),
        )
    if device.in_warranty(today):
        return Quote("free", part=part, device=device, alternative=alternative)
    return Quote(
        "quote",
        part=part,
        device=device,
        price_cents=part.price_cents,
        alternative=alternative,
        reason=say("record.part.out_of_warranty", device=device.model),
    )


def euros(cents: int, language: str = "en") -> str:
    """ "17.90", or „17,90“ in German."""
    amount = f"{cents / 100:.2f}"
    return amount.replace(".", ",") if language == "de" else amount


async def place_order(
    *,
    session: AsyncSession,
    customer: Customer,
    part_number: str,
    shipping_address: Optional[str] = None,
    device_id: Optional[int] = None,
    accepted_price_cents: Optional[int] = None,
    ticket: Optional[Ticket] = None,
    conversation_id: Optional[str] = None,
    domain: str = "hardware",
    summary: str = "",
    actor: str = "bot",
    idempotency_key: Optional[str] = None,
) -> PartOrder:
    """Order a part for the customer and put its ticket in pending_part.

    Out of warranty, the customer must have accepted the quoted price. Without
    a ticket, one is opened (or the customer's open one in the domain reused).
    """
    if idempotency_key:
        found = await session.execute(
            select(PartOrder).where(PartOrder.idempotency_key == idempotency_key)
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return existing
    offer = await quote(
        session=session, customer=customer, part_number=part_number, device_id=device_id
    )
    alternative = offer.alternative.part_number if offer.alternative else None
    if offer.result == "unknown":
        raise NotFound(offer.reason)
    if offer.result in ("incompatible", "out_of_stock"):
        raise Conflict(offer.reason, result=offer.result, alternative=alternative)
    assert offer.part is not None and offer.device is not None
    if offer.result == "quote" and accepted_price_cents != offer.price_cents:
        raise Invalid(
            f"The {offer.device.model} is out of warranty: the customer must accept "
            f"the price of EUR {euros(offer.price_cents)} (accepted_price).",
            price=euros(offer.price_cents),
        )
    address = (shipping_address or customer.address).strip()
    if len(address) < 5:
        raise Invalid("The shipping address is too short.")
    title = say("record.part_title", part=offer.part.name)
    if ticket is None:
        ticket, _ = await tickets.open_or_update(
            session=session,
            conversation_id=conversation_id,
            customer_id=customer.id,
            domain=domain,
            title=title,
            summary=summary,
            actor=actor,
        )
    order = PartOrder(
        customer_id=customer.id,
        device_id=offer.device.id,
        ticket_id=ticket.id,
        conversation_id=conversation_id,
        part_number=offer.part.part_number,
        part_name=offer.part.name,
        price_cents=offer.price_cents,
        in_warranty=offer.result == "free",
        shipping_address=address,
        idempotency_key=idempotency_key,
        created_by=actor,
    )
    session.add(order)
    await session.flush()
    price = say("record.part.free") if order.in_warranty else f"EUR {euros(order.price_cents)}"
    await tickets.record_event(
        session=session,
        ticket=ticket,
        kind="part_order",
        actor=actor,
        detail=f"{order.number}: {order.part_number} {order.part_name}, {price}, to {address}",
    )
    await tickets.change_status(session=session, ticket=ticket, to="pending_part", actor=actor)
    return order


async def get_order(*, session: AsyncSession, order_id: int) -> PartOrder:
    order = await session.get(PartOrder, order_id)
    if order is None:
        raise NotFound(f"No part order {order_id}.")
    return order


async def list_orders(
    *,
    session: AsyncSession,
    customer_id: Optional[int] = None,
    ticket_id: Optional[int] = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PartOrder], int]:
    conditions = []
    if customer_id is not None:
        conditions.append(PartOrder.customer_id == customer_id)
    if ticket_id is not None:
        conditions.append(PartOrder.ticket_id == ticket_id)
    rows = await session.execute(
        select(PartOrder)
        .where(*conditions)
        .order_by(PartOrder.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(select(func.count()).select_from(PartOrder).where(*conditions))
    return list(rows.scalars().all()), int(total.scalar_one())


async def change_order_status(
    *, session: AsyncSession, order: PartOrder, to: str, actor: str
) -> PartOrder:
    if to not in ORDER_TRANSITIONS:
        raise Invalid(f"Unknown order status {to!r}.")
    if to == order.status:
        return order
    if to not in ORDER_TRANSITIONS[order.status]:
        raise Conflict(f"invalid transition from {order.status} to {to}")
    before, order.status = order.status, to
    ticket = await session.get(Ticket, order.ticket_id)
    if ticket is not None:
        await tickets.record_event(
            session=session,
            ticket=ticket,
            kind="part_order",
            actor=actor,
            detail=f"{order.number}: {before} → {to}",
        )
    await session.flush()
    return order
