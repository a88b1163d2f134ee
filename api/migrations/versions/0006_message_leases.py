"""Customer messages carry a lease: who may answer a message that a dead worker left unanswered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNANSWERED = sa.text("status = 'received'")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    # Only the few messages on their way to the assistant are in this index, so
    # looking for unanswered ones stays cheap however long the history grows.
    op.create_index(
        "ix_messages_unanswered",
        "messages",
        ["id"],
        sqlite_where=UNANSWERED,
        postgresql_where=UNANSWERED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unanswered", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("lease_until")
