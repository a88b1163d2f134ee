"""The conversation's language, agents' languages, and when a rating was requested.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from api.models.base import UTCDateTime

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
        batch.add_column(sa.Column("rating_requested_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("agents") as batch:
        # Existing agents speak English until a supervisor says otherwise.
        batch.add_column(
            sa.Column("languages", sa.JSON(), nullable=False, server_default=sa.text("'[\"en\"]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("languages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("rating_requested_at")
        batch.drop_column("language")
