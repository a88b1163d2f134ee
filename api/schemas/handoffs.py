"""The handoff queue and the agent's view of a conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.agents import Skill
from api.schemas.types import Int64


class HandoffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: str
    status: str
    reason: str
    tier: int
    skill: str
    priority: str
    summary: str
    agent_id: Optional[int]
    waiting_since: datetime
    claimed_at: Optional[datetime]
    # The customer's name, or their first words cut at a word boundary.
    title: str = ""
    language: str = Field(description="The conversation's language: en or de.")


class QueuePage(BaseModel):
    items: list[HandoffPublic]
    total: int
    limit: int
    offset: int


class EscalateRequest(BaseModel):
    note: str = Field(default="", max_length=4000)


class TransferRequest(BaseModel):
    note: str = Field(default="", max_length=4000)
    skill: Optional[Skill] = None
    agent_id: Optional[Int64] = None


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class NotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    text: str
    created_at: datetime


class TicketBrief(BaseModel):
    number: str
    title: str
    status: str
    domain: str
    contact: Optional[str] = Field(
        default=None,
        description="The e-mail address or phone number the customer gave for this ticket "
        "(for a call back, the number to call).",
    )


class ConversationView(BaseModel):
    """Everything an agent sees when opening a chat."""

    conversation_id: str
    owner: str
    language: str = Field(description="The language the customer writes in: en or de.")
    handoff: Optional[HandoffPublic]
    messages: list[dict[str, Any]]
    notes: list[NotePublic]
    tickets: list[TicketBrief]
    customer: Optional[dict[str, Any]] = None
