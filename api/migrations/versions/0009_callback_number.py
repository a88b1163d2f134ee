"""A call back needs a phone number: the customer's number on record, and where a
waiting customer's call back stands (asking for a number, arranged, declined).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("callback_step", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column(
                "callback_ticket_id",
                sa.Integer(),
                sa.ForeignKey(
                    "tickets.id", ondelete="SET NULL", name="fk_handoffs_callback_ticket_id_tickets"
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("fk_handoffs_callback_ticket_id_tickets", type_="foreignkey")
        batch.drop_column("callback_ticket_id")
        batch.drop_column("callback_attempts")
        batch.drop_column("callback_step")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("phone")
