"""Parts in the catalogue, quotes and orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import Int64


class PartPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    part_number: str
    name: str
    price: Decimal
    fits: list[str]
    stock: int
    alternative: Optional[str]


class QuotePublic(BaseModel):
    result: Literal["free", "quote", "incompatible", "out_of_stock", "unknown"]
    part_number: Optional[str]
    device_id: Optional[int]
    price: Decimal
    alternative: Optional[str]
    reason: str


class PartOrderCreate(BaseModel):
    customer_id: Int64
    part_number: str = Field(min_length=1, max_length=40)
    device_id: Optional[Int64] = None
    ticket_number: Optional[str] = Field(default=None, max_length=20)
    shipping_address: Optional[str] = Field(default=None, max_length=300)
    # Out of warranty: the price (EUR) the customer agreed to pay.
    accepted_price: Optional[Decimal] = Field(default=None, ge=0, max_digits=8, decimal_places=2)


class PartOrderUpdate(BaseModel):
    status: Literal["placed", "shipped", "delivered", "cancelled"]


class PartOrderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    customer_id: int
    device_id: Optional[int]
    ticket_id: int
    part_number: str
    part_name: str
    price_cents: int
    in_warranty: bool
    shipping_address: str
    status: str
    created_by: str
    created_at: datetime
