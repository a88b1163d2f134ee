"""Customers: identifying them in a chat, their devices, and importing them."""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Conversation, Customer, Device, ServiceArea
from api.services import tickets
from api.services.errors import Invalid, NotFound


def _clean_postcode(value: str) -> str:
    return "".join(value.split()).upper()


async def verify_customer(
    *, session: AsyncSession, reference: str, postcode: str
) -> Optional[Customer]:
    """The customer with this account number or e-mail *and* this postcode, else None.

    Both must match, so a guessed account number alone reveals nothing.
    """
    reference = reference.strip()
    if not reference or not postcode.strip():
        return None
    query = select(Customer).where(
        or_(
            func.upper(Customer.account_number) == reference.upper(),
            func.lower(Customer.email) == reference.lower(),
        )
    )
    customer = (await session.execute(query)).scalar_one_or_none()
    if customer is None or _clean_postcode(customer.postcode) != _clean_postcode(postcode):
        return None
    return customer


async def get_customer(*, session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id}.")
    return customer


async def list_customers(
    *, session: AsyncSession, service_area: Optional[str] = None, limit: int = 50, offset: int = 0
) -> tuple[list[Customer], int]:
    query = select(Customer)
    count = select(func.count()).select_from(Customer)
    if service_area:
        query = query.where(Customer.service_area == service_area)
        count = count.where(Customer.service_area == service_area)
    rows = await session.execute(query.order_by(Customer.id).limit(limit).offset(offset))
    return list(rows.scalars().all()), (await session.execute(count)).scalar_one()


async def link_conversation(
    *, session: AsyncSession, conversation_id: str, customer_id: int
) -> None:
    """Remember who the customer in this conversation is."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is not None and conversation.customer_id != customer_id:
        conversation.customer_id = customer_id
        await session.flush()


async def customer_for_conversation(
    *, session: AsyncSession, conversation_id: Optional[str]
) -> Optional[Customer]:
    if not conversation_id:
        return None
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.customer_id is None:
        return None
    return await session.get(Customer, conversation.customer_id)


def flow_slots(customer: Customer, *, today: Optional[date] = None) -> dict[str, Any]:
    """What a flow may know about the verified customer (never another customer's data)."""
    today = today or date.today()
    devices = [
        {
            "id": d.id,
            "type": d.type,
            "model": d.model,
            "in_warranty": d.in_warranty(today),
            "warranty_end": d.warranty_end.isoformat() if d.warranty_end else None,
        }
        for d in customer.devices
    ]
    models = ", ".join(d["model"] for d in devices)
    return {
        "customer_id": customer.id,
        "customer_name": customer.name.split()[0],
        "service_area": customer.service_area,
        "customer_services": list(customer.services),
        "shipping_address": customer.address,
        "devices": devices,
        "device_models": models,
        # " (FritzBox 7590, HomeBox 200)" after "registered to your account", or nothing.
        "device_models_note": f" ({models})" if models else "",
    }


async def import_customers(
    *, session: AsyncSession, records: list[dict[str, Any]]
) -> tuple[int, int]:
    """Create or update customers by account number (and devices by serial).

    Running the same import twice changes nothing the second time.
    Returns (created, updated).
    """
    created = updated = 0
    areas = set((await session.execute(select(ServiceArea.code))).scalars().all())
    for record in records:
        if record["service_area"] not in areas:
            raise Invalid(
                f"Customer {record['account_number']}: unknown service area "
                f"{record['service_area']!r}."
            )
        existing = (
            await session.execute(
                select(Customer).where(Customer.account_number == record["account_number"])
            )
        ).scalar_one_or_none()
        fields = {k: v for k, v in record.items() if k != "devices"}
        if fields.get("phone"):
            fields["phone"] = tickets.parse_phone(str(fields["phone"]))
            if fields["phone"] is None:
                raise Invalid(
                    f"Customer {record['account_number']}: {record['phone']!r} is not a phone "
                    "number (7 to 15 digits)."
                )
        if existing is None:
            customer = Customer(**fields)
            session.add(customer)
            await session.flush()
            created += 1
        else:
            customer = existing
            for key, value in fields.items():
                setattr(customer, key, value)
            updated += 1
        for device in record.get("devices") or []:
            found = (
                await session.execute(select(Device).where(Device.serial == device["serial"]))
            ).scalar_one_or_none()
            if found is None:
                session.add(Device(customer_id=customer.id, **device))
            elif found.customer_id != customer.id:
                raise Invalid(f"Device {device['serial']} is registered to another customer.")
            else:
                for key, value in device.items():
                    setattr(found, key, value)
        await session.flush()
        await session.refresh(customer, ["devices"])
    return created, updated
