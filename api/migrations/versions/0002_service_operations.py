"""Customers, devices, service areas, ticket history, part orders, visits, outages, goodwill.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from api.models.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_areas",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_number", sa.String(32), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("postcode", sa.String(16), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column(
            "service_area", sa.String(32), sa.ForeignKey("service_areas.code"), nullable=False
        ),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_customers_account_number", "customers", ["account_number"], unique=True)
    op.create_index("ix_customers_email", "customers", ["email"], unique=True)
    op.create_index("ix_customers_service_area", "customers", ["service_area"])

    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("model", sa.String(80), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.UniqueConstraint("serial"),
    )
    op.create_index("ix_devices_customer_id", "devices", ["customer_id"])

    op.create_table(
        "technicians",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column(
            "service_area", sa.String(32), sa.ForeignKey("service_areas.code"), nullable=False
        ),
        sa.Column("day_start_hour", sa.Integer(), nullable=False),
        sa.Column("day_end_hour", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_technicians_service_area", "technicians", ["service_area"])

    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "service_area", sa.String(32), sa.ForeignKey("service_areas.code"), nullable=False
        ),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("expected_end", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(80), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_outages_service_area", "outages", ["service_area"])

    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column(
                "customer_id",
                sa.Integer(),
                sa.ForeignKey(
                    "customers.id", ondelete="SET NULL", name="fk_tickets_customer_id_customers"
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("idempotency_key", sa.String(80), nullable=True))
        batch.create_index("ix_tickets_customer_id", ["customer_id"])
        batch.create_unique_constraint("uq_tickets_idempotency_key", ["idempotency_key"])

    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column(
                "customer_id",
                sa.Integer(),
                sa.ForeignKey(
                    "customers.id",
                    ondelete="SET NULL",
                    name="fk_conversations_customer_id_customers",
                ),
                nullable=True,
            )
        )
        batch.create_index("ix_conversations_customer_id", ["customer_id"])

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])

    op.create_table(
        "part_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column(
            "device_id",
            sa.Integer(),
            sa.ForeignKey("devices.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("part_number", sa.String(40), nullable=False),
        sa.Column("part_name", sa.String(120), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("in_warranty", sa.Boolean(), nullable=False),
        sa.Column("shipping_address", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_part_orders_customer_id", "part_orders", ["customer_id"])
    op.create_index("ix_part_orders_ticket_id", "part_orders", ["ticket_id"])

    op.create_table(
        "visit_bookings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("technician_id", sa.Integer(), sa.ForeignKey("technicians.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("technician_id", "slot_start", name="uq_visit_technician_slot"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_visit_bookings_technician_id", "visit_bookings", ["technician_id"])
    op.create_index("ix_visit_bookings_customer_id", "visit_bookings", ["customer_id"])
    op.create_index("ix_visit_bookings_ticket_id", "visit_bookings", ["ticket_id"])

    op.create_table(
        "goodwill_gestures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offered_by", sa.String(80), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(80), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_goodwill_gestures_customer_id", "goodwill_gestures", ["customer_id"])


def downgrade() -> None:
    op.drop_table("goodwill_gestures")
    op.drop_table("visit_bookings")
    op.drop_table("part_orders")
    op.drop_table("ticket_events")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_customer_id")
        batch.drop_constraint("fk_conversations_customer_id_customers", type_="foreignkey")
        batch.drop_column("customer_id")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("uq_tickets_idempotency_key", type_="unique")
        batch.drop_index("ix_tickets_customer_id")
        batch.drop_constraint("fk_tickets_customer_id_customers", type_="foreignkey")
        batch.drop_column("idempotency_key")
        batch.drop_column("customer_id")
    op.drop_table("outages")
    op.drop_table("technicians")
    op.drop_table("devices")
    op.drop_table("customers")
    op.drop_table("service_areas")
