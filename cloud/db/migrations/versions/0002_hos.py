"""Tables for hours of service (driver settings, duty-status events).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drivers",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ruleset", sa.String(length=32), nullable=False),
        sa.Column("exceptions", JSON, nullable=False),
        sa.Column("home_terminal_tz", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "driver_id", name=op.f("pk_drivers")),
    )
    op.create_table(
        "duty_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("boot_id", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("eld_seq", sa.Integer(), nullable=True),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("record_status", sa.String(length=24), nullable=False),
        sa.Column("edit_of", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("odometer_km", sa.Float(), nullable=True),
        sa.Column("engine_hours", sa.Float(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_events")),
        sa.UniqueConstraint(
            "fleet_id",
            "device_id",
            "boot_id",
            "seq",
            name=op.f("uq_duty_events_fleet_id_device_id_boot_id_seq"),
        ),
    )
    op.create_index(
        op.f("ix_duty_events_fleet_id_driver_id_time_ms"),
        "duty_events",
        ["fleet_id", "driver_id", "time_ms"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_duty_events_fleet_id_driver_id_time_ms"), table_name="duty_events")
    op.drop_table("duty_events")
    op.drop_table("drivers")
