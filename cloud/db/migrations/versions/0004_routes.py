"""Tables for route plans, stops and adherence.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("fleet_id", "route_id", name=op.f("pk_routes")),
    )
    op.create_index(
        op.f("ix_routes_fleet_id_device_id_start_ms"),
        "routes",
        ["fleet_id", "device_id", "start_ms"],
        unique=False,
    )
    op.create_table(
        "route_results",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("as_of_ms", sa.BigInteger(), nullable=False),
        sa.Column("computed_ms", sa.BigInteger(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("stops", JSON, nullable=False),
        sa.Column("eta", JSON, nullable=False),
        sa.Column("alerts", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "route_id", name=op.f("pk_route_results")),
    )
    op.create_table(
        "route_events",
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("stop_index", sa.Integer(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fleet_id", "route_id", "key", name=op.f("pk_route_events")),
    )
    op.create_index(
        op.f("ix_route_events_fleet_id_route_id_time_ms"),
        "route_events",
        ["fleet_id", "route_id", "time_ms"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_route_events_fleet_id_route_id_time_ms"), table_name="route_events")
    op.drop_table("route_events")
    op.drop_table("route_results")
    op.drop_index(op.f("ix_routes_fleet_id_device_id_start_ms"), table_name="routes")
    op.drop_table("routes")
