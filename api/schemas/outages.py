"""Known outages per service area."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class OutageCreate(BaseModel):
    service_area: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=3, max_length=2000)
    service: Literal["internet", "cable_tv", "all"] = "all"
    starts_at: Optional[datetime] = None
    expected_end: Optional[datetime] = None


class OutageUpdate(BaseModel):
    description: Optional[str] = Field(default=None, min_length=3, max_length=2000)
    expected_end: Optional[datetime] = None
    ended: bool = False


class OutagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    service_area: str
    service: str
    description: str
    starts_at: datetime
    expected_end: Optional[datetime]
    ended_at: Optional[datetime]
    created_by: str
