"""Tables for alerts, fault triage, maintenance schedules, webhook delivery.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("mqtt_published_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index(
        op.f("ix_alert_events_fleet_id_alert_id"),
        "alert_events",
        ["fleet_id", "alert_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_alert_events_fleet_id_id"), "alert_events", ["fleet_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_alert_events_mqtt_published_ms"),
        "alert_events",
        ["mqtt_published_ms"],
        unique=False,
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(
        op.f("ix_alert_rules_fleet_id_kind"), "alert_rules", ["fleet_id", "kind"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("started_event_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_event_ms", sa.BigInteger(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolved_event_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("fleet_id", "kind", "key", name=op.f("uq_alerts_fleet_id_kind_key")),
    )
    op.create_index(
        op.f("ix_alerts_fleet_id_device_id_kind"),
        "alerts",
        ["fleet_id", "device_id", "kind"],
        unique=False,
    )
    op.create_index(
        op.f("ix_alerts_fleet_id_status_severity"),
        "alerts",
        ["fleet_id", "status", "severity"],
        unique=False,
    )
    op.create_table(
        "maintenance_schedules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("device_ids", JSON, nullable=True),
        sa.Column("every_km", sa.Float(), nullable=True),
        sa.Column("every_h", sa.Float(), nullable=True),
        sa.Column("every_days", sa.Float(), nullable=True),
        sa.Column("due_soon_km", sa.Float(), nullable=False),
        sa.Column("due_soon_h", sa.Float(), nullable=False),
        sa.Column("due_soon_days", sa.Float(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_schedules")),
    )
    op.create_index(
        op.f("ix_maintenance_schedules_fleet_id"),
        "maintenance_schedules",
        ["fleet_id"],
        unique=False,
    )
    op.create_table(
        "maintenance_services",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.BigInteger(), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=False),
        sa.Column("odometer_km", sa.Float(), nullable=True),
        sa.Column("engine_h", sa.Float(), nullable=True),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_services")),
    )
    op.create_index(
        op.f("ix_maintenance_services_fleet_id_device_id_schedule_id_done_ms"),
        "maintenance_services",
        ["fleet_id", "device_id", "schedule_id", "done_ms"],
        unique=False,
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_pk", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        op.f("ix_webhook_attempts_fleet_id_delivery_pk"),
        "webhook_attempts",
        ["fleet_id", "delivery_pk"],
        unique=False,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("webhook_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_event_id", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "webhook_id",
            "alert_event_id",
            "generation",
            name=op.f("uq_webhook_deliveries_webhook_id_alert_event_id_generation"),
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_fleet_id_webhook_id_id"),
        "webhook_deliveries",
        ["fleet_id", "webhook_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_ms"),
        "webhook_deliveries",
        ["status", "next_attempt_ms"],
        unique=False,
    )
    op.create_table(
        "webhooks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_fleet_id"), "webhooks", ["fleet_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhooks_fleet_id"), table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_index(
        op.f("ix_webhook_deliveries_status_next_attempt_ms"), table_name="webhook_deliveries"
    )
    op.drop_index(
        op.f("ix_webhook_deliveries_fleet_id_webhook_id_id"), table_name="webhook_deliveries"
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_webhook_attempts_fleet_id_delivery_pk"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index(
        op.f("ix_maintenance_services_fleet_id_device_id_schedule_id_done_ms"),
        table_name="maintenance_services",
    )
    op.drop_table("maintenance_services")
    op.drop_index(op.f("ix_maintenance_schedules_fleet_id"), table_name="maintenance_schedules")
    op.drop_table("maintenance_schedules")
    op.drop_index(op.f("ix_alerts_fleet_id_status_severity"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_fleet_id_device_id_kind"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_index(op.f("ix_alert_rules_fleet_id_kind"), table_name="alert_rules")
    op.drop_table("alert_rules")
    op.drop_index(op.f("ix_alert_events_mqtt_published_ms"), table_name="alert_events")
    op.drop_index(op.f("ix_alert_events_fleet_id_id"), table_name="alert_events")
    op.drop_index(op.f("ix_alert_events_fleet_id_alert_id"), table_name="alert_events")
    op.drop_table("alert_events")
