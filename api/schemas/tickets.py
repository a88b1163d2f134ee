"""Tickets, their history, and transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import Int64
from bot.vocabulary import Domain, Tier

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal[
    "new", "open", "pending_customer", "pending_part", "visit_scheduled", "resolved", "closed"
]


class TicketCreate(BaseModel):
    domain: Domain
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=10_000)
    priority: Priority = "normal"
    tier: Tier = 2
    customer_id: Optional[Int64] = None
    conversation_id: Optional[str] = Field(default=None, max_length=32)


class TicketUpdate(BaseModel):
    """The fields to change; a field left out, or given as null, stays as it is."""

    status: Optional[Status] = None
    priority: Optional[Priority] = None
    tier: Optional[Tier] = None
    domain: Optional[Domain] = None
    summary: Optional[str] = Field(default=None, max_length=10_000)
    note: Optional[str] = Field(default=None, max_length=4000)


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class TicketPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    status: str
    domain: str
    priority: str
    tier: int
    title: str
    summary: str
    customer_id: Optional[int]
    contact: Optional[str] = None
    conversation_id: Optional[str]
    transcript_path: Optional[str]
    created_at: datetime
    updated_at: datetime


class TicketEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    actor: str
    from_status: Optional[str]
    to_status: Optional[str]
    detail: str
    created_at: datetime


class Transcript(BaseModel):
    conversation_id: str
    customer_id: Optional[int]
    messages: list[dict[str, Any]]
