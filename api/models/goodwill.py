"""Goodwill gestures: offered by the bot (within policy) or by agents (within their limits)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class GestureStatus(str, enum.Enum):
    offered = "offered"
    accepted = "accepted"
    declined = "declined"


class GoodwillGesture(Base):
    """One gesture, from offer to the customer's answer; the row is its audit record."""

    __tablename__ = "goodwill_gestures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    # service_credit | free_service | device_replacement
    kind: Mapped[str] = mapped_column(String(24))
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(300))
    # The policy rule (or the agent's note) that justified it.
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=GestureStatus.offered.value)
    offered_by: Mapped[str] = mapped_column(String(80))
    staff_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(80), nullable=True, unique=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
