"""Goodwill gestures and the policy behind them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import Int64


class GestureCreate(BaseModel):
    customer_id: Int64
    kind: Literal["service_credit", "free_service", "device_replacement"]
    amount: Decimal = Field(default=Decimal("0"), ge=0, max_digits=8, decimal_places=2)
    description: str = Field(min_length=3, max_length=300)
    reason: str = Field(min_length=3, max_length=2000)
    ticket_number: Optional[str] = Field(default=None, max_length=20)


class GestureDecision(BaseModel):
    accepted: bool


class GesturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    ticket_id: Optional[int]
    conversation_id: Optional[str]
    kind: str
    amount_cents: int
    description: str
    reason: str
    status: str
    offered_by: str
    offered_at: datetime
    decided_at: Optional[datetime]


class PolicyPublic(BaseModel):
    limits: dict[str, Any]
    rules: list[dict[str, Any]]
