"""Handoffs of a conversation to a person, internal notes and satisfaction ratings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from api.models.base import Base, UTCDateTime, utcnow
from api.models.conversations import Conversation


class HandoffStatus(str, enum.Enum):
    waiting = "waiting"  # in the queue
    active = "active"  # an agent has it
    returned = "returned"  # handed back to the bot
    resolved = "resolved"  # the agent resolved the conversation
    callback = "callback"  # the customer chose a callback instead of waiting


OPEN_HANDOFF_STATUSES = (HandoffStatus.waiting.value, HandoffStatus.active.value)


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.waiting.value, index=True)
    reason: Mapped[str] = mapped_column(String(40))
    tier: Mapped[int] = mapped_column(Integer, default=2)
    skill: Mapped[str] = mapped_column(String(16), default="other")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    summary: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    callback_offered: Mapped[bool] = mapped_column(default=False)
    # The call back the customer asked for while waiting: `asking` (for a phone number),
    # `arranged` (the callback ticket has the number) or `declined` (no number, so no call).
    callback_step: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    # Answers in a row that held no phone number.
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    # The assistant's flow state when the chat went to a person: a hand-back resumes it.
    flow_state: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The conversation's language (read-only here; it is stored on the conversation),
    # loaded with the handoff and kept when the handoff's own changes are flushed.
    language: Mapped[str] = column_property(
        select(Conversation.language)
        .where(Conversation.id == conversation_id)
        .correlate_except(Conversation)
        .scalar_subquery(),
        expire_on_flush=False,
    )


class HandoffEvent(Base):
    """Audit trail of a handoff: queued, claimed, escalated, transferred, returned, resolved."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InternalNote(Base):
    """A note between agents. Never shown to the customer."""

    __tablename__ = "internal_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    author: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """The customer's satisfaction rating at the end of a conversation."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
