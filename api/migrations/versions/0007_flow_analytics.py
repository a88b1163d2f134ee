"""Flow analytics: the flow-run rollup, its watermarks, the review list of messages
the assistant did not understand, and an index for per-step figures.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from api.models.base import UTCDateTime

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("person", sa.Boolean(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("last_flow_id", sa.String(64), nullable=False),
        sa.Column("last_step_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_flow_runs_conversation_id", "flow_runs", ["conversation_id"])
    # Covering the per-flow and per-day figures: they read only this index.
    op.create_index(
        "ix_flow_runs_day_flow",
        "flow_runs",
        ["day", "flow_id", "outcome", "person", "closed", "ended_at", "turns", "seconds"],
    )
    # Where customers left one flow.
    op.create_index(
        "ix_flow_runs_last_step",
        "flow_runs",
        ["last_flow_id", "day", "last_step_id", "outcome", "closed", "ended_at"],
    )

    watermarks = op.create_table(
        "analytics_watermarks",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
    )
    # Nothing read yet: the first refresh builds the runs of the whole history.
    op.bulk_insert(
        watermarks, [{"source": "flow_events", "last_id": 0}, {"source": "handoffs", "last_id": 0}]
    )

    op.create_table(
        "not_understood",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("flow_id", sa.String(64), nullable=True),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("labelled_by", sa.Integer(), nullable=True),
        sa.Column("labelled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_not_understood_conversation_id", "not_understood", ["conversation_id"])
    op.create_index("ix_not_understood_created", "not_understood", ["created_at"])

    # Per-step figures read one flow's events of one kind in a date range.
    op.create_index(
        "ix_flow_events_flow_kind_created", "flow_events", ["flow_id", "kind", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_flow_events_flow_kind_created", table_name="flow_events")
    op.drop_table("not_understood")
    op.drop_table("analytics_watermarks")
    op.drop_table("flow_runs")
