"""Technicians, their working hours, and booked home visits."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class Technician(Base):
    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    service_area: Mapped[str] = mapped_column(ForeignKey("service_areas.code"), index=True)
    # Local working hours in the area's time zone, e.g. 8 → 16, on ISO weekdays 1-5.
    day_start_hour: Mapped[int] = mapped_column(Integer, default=8)
    day_end_hour: Mapped[int] = mapped_column(Integer, default=16)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5])
    slot_minutes: Mapped[int] = mapped_column(Integer, default=120)
    active: Mapped[bool] = mapped_column(default=True)


class VisitStatus(str, enum.Enum):
    booked = "booked"
    cancelled = "cancelled"
    done = "done"


class VisitBooking(Base):
    """One technician, one start time.

    `slot_start` equals `starts_at` while the booking holds the slot and is
    NULL once cancelled. The unique constraint on (technician_id, slot_start)
    is what makes two customers racing for the last slot end with exactly one
    booking, in any number of processes; NULLs never collide, so a cancelled
    slot can be booked again.
    """

    __tablename__ = "visit_bookings"
    __table_args__ = (
        UniqueConstraint("technician_id", "slot_start", name="uq_visit_technician_slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_start: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.booked.value)
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(80), nullable=True, unique=True)
    created_by: Mapped[str] = mapped_column(String(80), default="bot")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
