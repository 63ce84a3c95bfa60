"""Create all tables of the first cloud schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 21:18:28.679078
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", name=op.f("pk_device_status")),
    )
    op.create_table(
        "dirty_windows",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dirty_windows")),
    )
    op.create_index(
        op.f("ix_dirty_windows_fleet_id_device_id"),
        "dirty_windows",
        ["fleet_id", "device_id"],
        unique=False,
    )
    op.create_table(
        "events",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", "boot_id", "seq", name=op.f("pk_events")),
    )
    op.create_index(
        op.f("ix_events_fleet_id_device_id_name_time_ms"),
        "events",
        ["fleet_id", "device_id", "name", "time_ms"],
        unique=False,
    )
    op.create_index(
        op.f("ix_events_fleet_id_device_id_time_ms"),
        "events",
        ["fleet_id", "device_id", "time_ms"],
        unique=False,
    )
    op.create_table(
        "idle_periods",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", "start_ms", name=op.f("pk_idle_periods")),
    )
    op.create_table(
        "latest_positions",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", name=op.f("pk_latest_positions")),
    )
    op.create_table(
        "latest_signals",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", "name", name=op.f("pk_latest_signals")),
    )
    op.create_table(
        "positions",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("alt_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("course_deg", sa.Float(), nullable=True),
        sa.Column("sats", sa.Integer(), nullable=True),
        sa.Column("hdop", sa.Float(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "fleet_id", "device_id", "boot_id", "seq", name=op.f("pk_positions")
        ),
    )
    op.create_index(
        op.f("ix_positions_fleet_id_device_id_time_ms"),
        "positions",
        ["fleet_id", "device_id", "time_ms"],
        unique=False,
    )
    op.create_table(
        "quarantine",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(
        op.f("ix_quarantine_fleet_id_received_ms"),
        "quarantine",
        ["fleet_id", "received_ms"],
        unique=False,
    )
    op.create_table(
        "records",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", "boot_id", "seq", name=op.f("pk_records")),
    )
    op.create_index(
        op.f("ix_records_fleet_id_device_id_kind_time_ms"),
        "records",
        ["fleet_id", "device_id", "kind", "time_ms"],
        unique=False,
    )
    op.create_table(
        "trips",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("start_lat", sa.Float(), nullable=True),
        sa.Column("start_lon", sa.Float(), nullable=True),
        sa.Column("end_lat", sa.Float(), nullable=True),
        sa.Column("end_lon", sa.Float(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("max_speed_kmh", sa.Float(), nullable=True),
        sa.Column("idle_ms", sa.BigInteger(), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", "start_ms", name=op.f("pk_trips")),
    )
    op.create_table(
        "vehicles",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_boot_id", sa.BigInteger(), nullable=True),
        sa.Column("last_sent_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("fleet_id", "device_id", name=op.f("pk_vehicles")),
    )


def downgrade() -> None:
    op.drop_table("vehicles")
    op.drop_table("trips")
    op.drop_index(op.f("ix_records_fleet_id_device_id_kind_time_ms"), table_name="records")
    op.drop_table("records")
    op.drop_index(op.f("ix_quarantine_fleet_id_received_ms"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_positions_fleet_id_device_id_time_ms"), table_name="positions")
    op.drop_table("positions")
    op.drop_table("latest_signals")
    op.drop_table("latest_positions")
    op.drop_table("idle_periods")
    op.drop_index(op.f("ix_events_fleet_id_device_id_time_ms"), table_name="events")
    op.drop_index(op.f("ix_events_fleet_id_device_id_name_time_ms"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_dirty_windows_fleet_id_device_id"), table_name="dirty_windows")
    op.drop_table("dirty_windows")
    op.drop_table("device_status")
