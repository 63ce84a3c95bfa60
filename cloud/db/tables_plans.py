"""Core tables for route plans and adherence (part of ``cloud.db.tables.metadata``).

``routes`` holds the plan as sent (normalised) and the time span it is followed over;
``route_results`` the latest adherence result per route (report, stops, ETA and the alert
states it implies); ``route_events`` that result's events, one row each, by event time.
"""

from __future__ import annotations

import sqlalchemy as sa

from cloud.db.tables import Json, metadata

routes = sa.Table(
    "routes",
    metadata,
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("route_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False, doc="assigned vehicle's gateway"),
    sa.Column("driver_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False, doc="active / cancelled"),
    sa.Column("start_ms", sa.BigInteger, nullable=False, doc="scheduled start (UTC ms)"),
    sa.Column("end_ms", sa.BigInteger, nullable=False, doc="followed until (UTC ms)"),
    sa.Column("plan", Json, nullable=False, doc="normalised plan (cloud.adherence.Plan)"),
    sa.Column("version", sa.Integer, nullable=False, doc="1, +1 on every update"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("cancelled_ms", sa.BigInteger, nullable=True),
    sa.PrimaryKeyConstraint("fleet_id", "route_id"),
    sa.Index(None, "fleet_id", "device_id", "start_ms"),
)

route_results = sa.Table(
    "route_results",
    metadata,
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("route_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, doc="plan version the result is for"),
    sa.Column("state", sa.String(16), nullable=False, doc="planned/in_progress/completed/ended"),
    sa.Column("as_of_ms", sa.BigInteger, nullable=False, doc="event-time clock of the result"),
    sa.Column("computed_ms", sa.BigInteger, nullable=False),
    sa.Column("final", sa.Boolean, nullable=False, doc="completed or past the route's end"),
    sa.Column("report", Json, nullable=False),
    sa.Column("stops", Json, nullable=False),
    sa.Column("eta", Json, nullable=False),
    sa.Column("alerts", Json, nullable=False, doc="alert key -> spec the result implies"),
    sa.PrimaryKeyConstraint("fleet_id", "route_id"),
)

route_events = sa.Table(
    "route_events",
    metadata,
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("route_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(96), nullable=False, doc="stable within the route"),
    sa.Column("time_ms", sa.BigInteger, nullable=False, doc="event time (UTC ms)"),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("stop_index", sa.Integer, nullable=True),
    sa.Column("data", Json, nullable=False),
    sa.PrimaryKeyConstraint("fleet_id", "route_id", "key"),
    sa.Index(None, "fleet_id", "route_id", "time_ms"),
)
