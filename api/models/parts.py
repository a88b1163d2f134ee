"""Replacement part orders. The parts themselves live in data/catalog/parts.yml."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class OrderStatus(str, enum.Enum):
    placed = "placed"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


class PartOrder(Base):
    __tablename__ = "part_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    device_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    part_number: Mapped[str] = mapped_column(String(40))
    part_name: Mapped[str] = mapped_column(String(120))
    # What the customer pays, in euro cents: 0 under warranty, else the quoted price.
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    in_warranty: Mapped[bool] = mapped_column(default=False)
    shipping_address: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.placed.value)
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(80), nullable=True, unique=True)
    created_by: Mapped[str] = mapped_column(String(80), default="bot")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def number(self) -> str:
        return f"ORD-{self.id:06d}"
