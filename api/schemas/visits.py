"""Technicians, free slots and visit bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import Int64


class TechnicianPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    service_area: str
    day_start_hour: int
    day_end_hour: int
    weekdays: list[int]
    slot_minutes: int


class SlotPublic(BaseModel):
    ref: str
    technician_id: int
    technician_name: str
    starts_at: datetime
    ends_at: datetime
    label: str


class VisitCreate(BaseModel):
    customer_id: Int64
    technician_id: Int64
    starts_at: datetime
    ticket_number: Optional[str] = Field(default=None, max_length=20)


class VisitReschedule(BaseModel):
    technician_id: Int64
    starts_at: datetime


class VisitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    technician_id: int
    customer_id: int
    ticket_id: Optional[int]
    starts_at: datetime
    ends_at: datetime
    status: str
    created_by: str
    created_at: datetime
