"""Support tickets."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class TicketStatus(str, enum.Enum):
    new = "new"
    open = "open"
    pending_customer = "pending_customer"
    pending_part = "pending_part"
    visit_scheduled = "visit_scheduled"
    resolved = "resolved"
    closed = "closed"


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.new.value)
    domain: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    tier: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # An e-mail address or phone number the customer gave in the chat, when no
    # verified account (with its own contact details) is linked to the ticket.
    contact: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(80), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def number(self) -> str:
        return format_ticket_number(self.id)

    @property
    def transcript_path(self) -> Optional[str]:
        """Where staff read the conversation that led to this ticket."""
        if self.conversation_id is None:
            return None
        return f"/conversations/{self.conversation_id}/transcript"


class TicketEvent(Base):
    """Audit trail of a ticket: who changed what, and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # created | status | note | repeat_contact | part_order | visit | goodwill | update
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))
    from_status: Mapped[Optional[str]] = mapped_column(String(24), nullable=True)
    to_status: Mapped[Optional[str]] = mapped_column(String(24), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def format_ticket_number(ticket_id: int) -> str:
    return f"TCK-{ticket_id:06d}"


def parse_ticket_number(number: str) -> Optional[int]:
    """`TCK-000042`, `tck-42` or `42` → 42; anything else → None."""
    cleaned = number.strip().upper()
    if cleaned.startswith("TCK-"):
        cleaned = cleaned[4:]
    if not cleaned.isdigit() or len(cleaned) > 12:
        return None
    return int(cleaned)
