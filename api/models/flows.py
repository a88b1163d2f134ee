"""What happened inside diagnostic flows, for analysis."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class FlowEvent(Base):
    """One step visited, answer given or outcome reached in a diagnostic flow."""

    __tablename__ = "flow_events"
    # Per-step analytics read one flow's events of one kind in a date range.
    __table_args__ = (Index("ix_flow_events_flow_kind_created", "flow_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    flow_id: Mapped[str] = mapped_column(String(64), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
