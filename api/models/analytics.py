"""What the analytics pages read: flow runs rolled up from `flow_events`, and the
messages the assistant did not understand, for trainers to review."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class FlowRun(Base):
    """One diagnostic flow run: from its `start` event to its outcome or the next start.

    Rebuilt from `flow_events` and `handoffs` by SQL (api/services/analytics.py);
    never written by the conversation itself, so it can always be rebuilt.
    """

    __tablename__ = "flow_runs"
    __table_args__ = (
        # Covering the per-flow and per-day figures: they read only this index.
        Index(
            "ix_flow_runs_day_flow",
            "day",
            "flow_id",
            "outcome",
            "person",
            "closed",
            "ended_at",
            "turns",
            "seconds",
        ),
        # Where customers left one flow.
        Index(
            "ix_flow_runs_last_step",
            "last_flow_id",
            "day",
            "last_step_id",
            "outcome",
            "closed",
            "ended_at",
        ),
    )

    # The id of the run's `start` event in flow_events.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    flow_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC) of the start
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the run's last event
    seconds: Mapped[int] = mapped_column(Integer)  # whole seconds from start to last event
    # Customer messages within the run after the one that started it.
    turns: Mapped[int] = mapped_column(Integer)
    # resolved | ticket | part | visit | goodwill | handoff; NULL: none (yet)
    outcome: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    # A person was asked for during the run (a handoff row), whatever the flow said.
    person: Mapped[bool] = mapped_column(Boolean)
    # Another flow started after this one in the same conversation.
    closed: Mapped[bool] = mapped_column(Boolean)
    # Where the customer was last: the step (and the flow it belongs to, a called flow).
    last_flow_id: Mapped[str] = mapped_column(String(64))
    last_step_id: Mapped[str] = mapped_column(String(64))


class AnalyticsWatermark(Base):
    """How far the flow-run rollup has read a source table (its highest id)."""

    __tablename__ = "analytics_watermarks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)


class NotUnderstood(Base):
    """A customer message the assistant did not understand, for the review list.

    `kind` is `fallback` (no flow running and the message started none) or
    `miss` (a running flow's question got an answer that matched no choice).
    """

    __tablename__ = "not_understood"
    __table_args__ = (Index("ix_not_understood_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # The intent the assistant guessed (the NLU's first choice) and how sure it was.
    intent: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    confidence: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    flow_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    step_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    # The intent a trainer says it should have had (written to data/nlu/reviewed.yml).
    label: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    labelled_by: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    labelled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
