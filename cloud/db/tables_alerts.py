"""Core tables for alerts, maintenance and delivery (part of ``cloud.db.tables.metadata``).

``alerts``: one row per problem, unique by ``(fleet_id, kind, key)``; its lifecycle
(opened, escalated, acknowledged, resolved, reopened) is appended to ``alert_events``,
which is also the durable feed for MQTT and the live stream. ``webhook_deliveries`` is
the webhook outbox (one row per webhook and alert event), ``webhook_attempts`` its log.
``alert_rules`` holds per-fleet thresholds, severity overrides and settings.
``maintenance_schedules`` / ``maintenance_services`` hold preventive maintenance.
Times are UTC ms; ``*_event_ms`` are vehicle event times, the others wall-clock times.
"""

from __future__ import annotations

import sqlalchemy as sa

from cloud.db.tables import Id, Json, metadata

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False, doc="fault, threshold, maintenance, ..."),
    sa.Column("key", sa.String(255), nullable=False, doc="identity of the problem in its kind"),
    sa.Column("severity", sa.String(16), nullable=False, doc="critical/high/medium/low"),
    sa.Column("status", sa.String(16), nullable=False, doc="open/acknowledged/resolved"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("details", Json, nullable=False),
    sa.Column("started_event_ms", sa.BigInteger, nullable=False, doc="event time it began"),
    sa.Column("last_seen_event_ms", sa.BigInteger, nullable=False),
    sa.Column("opened_ms", sa.BigInteger, nullable=False, doc="when the cloud opened it"),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False, doc="event time far older than opening"),
    sa.Column("occurrences", sa.Integer, nullable=False, doc="times opened or reopened"),
    sa.Column("acknowledged_by", sa.String(128), nullable=True),
    sa.Column("acknowledged_ms", sa.BigInteger, nullable=True),
    sa.Column("resolved_by", sa.String(128), nullable=True),
    sa.Column("resolved_ms", sa.BigInteger, nullable=True),
    sa.Column("resolved_event_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("fleet_id", "kind", "key"),
    sa.Index(None, "fleet_id", "status", "severity"),
    sa.Index(None, "fleet_id", "device_id", "kind"),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("alert_id", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False, doc="alert.opened, alert.resolved, ..."),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("by", sa.String(128), nullable=False),
    sa.Column("payload", Json, nullable=False, doc="the alert as it was at that moment"),
    sa.Column("mqtt_published_ms", sa.BigInteger, nullable=True),
    sa.Index(None, "fleet_id", "id"),
    sa.Index(None, "fleet_id", "alert_id"),
    sa.Index(None, "mqtt_published_ms"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(255), nullable=False, doc="HMAC-SHA256 key"),
    sa.Column("events", Json, nullable=False, doc="alert event types sent"),
    sa.Column("min_severity", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Index(None, "fleet_id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("webhook_id", sa.BigInteger, nullable=False),
    sa.Column("alert_event_id", sa.BigInteger, nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, doc="0 first, 1.. replays"),
    sa.Column("delivery_id", sa.String(64), nullable=False, doc="same for replays"),
    sa.Column("body", sa.Text, nullable=False, doc="exact JSON bytes that are signed"),
    sa.Column("status", sa.String(16), nullable=False, doc="pending/delivered/dead"),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
    sa.Column("lease_until_ms", sa.BigInteger, nullable=True, doc="claimed by a worker"),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("webhook_id", "alert_event_id", "generation"),
    sa.Index(None, "status", "next_attempt_ms"),
    sa.Index(None, "fleet_id", "webhook_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("delivery_pk", sa.BigInteger, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index(None, "fleet_id", "delivery_pk"),
)

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False, doc="threshold/severity_override/setting"),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Index(None, "fleet_id", "kind"),
)

maintenance_schedules = sa.Table(
    "maintenance_schedules",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("device_ids", Json, nullable=True, doc="vehicles it applies to; null = all"),
    sa.Column("every_km", sa.Float, nullable=True),
    sa.Column("every_h", sa.Float, nullable=True, doc="engine hours"),
    sa.Column("every_days", sa.Float, nullable=True),
    sa.Column("due_soon_km", sa.Float, nullable=False),
    sa.Column("due_soon_h", sa.Float, nullable=False),
    sa.Column("due_soon_days", sa.Float, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False, doc="baseline when never serviced"),
    sa.Index(None, "fleet_id"),
)

maintenance_services = sa.Table(
    "maintenance_services",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("schedule_id", sa.BigInteger, nullable=False),
    sa.Column("done_ms", sa.BigInteger, nullable=False, doc="when the service was done"),
    sa.Column("odometer_km", sa.Float, nullable=True),
    sa.Column("engine_h", sa.Float, nullable=True),
    sa.Column("by", sa.String(128), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Index(None, "fleet_id", "device_id", "schedule_id", "done_ms"),
)
