"""The cloud schema as SQLAlchemy Core metadata; every table is scoped by ``fleet_id``.

Times are UTC milliseconds since the Unix epoch: ``time_ms`` is when something happened
on the vehicle (event time), ``received_ms`` when the cloud stored it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSONB on PostgreSQL, JSON text elsewhere.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fleet() -> sa.Column:
    return sa.Column("fleet_id", sa.String(64), nullable=False)


def _device() -> sa.Column:
    return sa.Column("device_id", sa.String(64), nullable=False)


vehicles = sa.Table(
    "vehicles",
    metadata,
    _fleet(),
    _device(),
    sa.Column("first_seen_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False, doc="last message received"),
    sa.Column("last_event_ms", sa.BigInteger, nullable=True, doc="newest record event time"),
    sa.Column("last_boot_id", sa.BigInteger, nullable=True),
    sa.Column("last_sent_ms", sa.BigInteger, nullable=True, doc="agent clock of last batch"),
    sa.Column("last_status", sa.String(32), nullable=True, doc="online / offline"),
    sa.PrimaryKeyConstraint("fleet_id", "device_id"),
)

records = sa.Table(
    "records",
    metadata,
    _fleet(),
    _device(),
    sa.Column("boot_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("data", Json, nullable=False),
    # The record's identity forever: redelivery inserts nothing.
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "boot_id", "seq"),
    sa.Index(None, "fleet_id", "device_id", "kind", "time_ms"),
)

positions = sa.Table(
    "positions",
    metadata,
    _fleet(),
    _device(),
    sa.Column("boot_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("lat", sa.Float, nullable=True, doc="degrees WGS84"),
    sa.Column("lon", sa.Float, nullable=True, doc="degrees WGS84"),
    sa.Column("alt_m", sa.Float, nullable=True),
    sa.Column("speed_mps", sa.Float, nullable=True),
    sa.Column("course_deg", sa.Float, nullable=True),
    sa.Column("sats", sa.Integer, nullable=True),
    sa.Column("hdop", sa.Float, nullable=True),
    sa.Column("valid", sa.Boolean, nullable=True),
    sa.Column("data", Json, nullable=False, doc="the whole position record"),
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "boot_id", "seq"),
    sa.Index(None, "fleet_id", "device_id", "time_ms"),
)

events = sa.Table(
    "events",
    metadata,
    _fleet(),
    _device(),
    sa.Column("boot_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("data", Json, nullable=False, doc="event attributes (without name)"),
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "boot_id", "seq"),
    sa.Index(None, "fleet_id", "device_id", "time_ms"),
    sa.Index(None, "fleet_id", "device_id", "name", "time_ms"),
)

latest_positions = sa.Table(
    "latest_positions",
    metadata,
    _fleet(),
    _device(),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("boot_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.PrimaryKeyConstraint("fleet_id", "device_id"),
)

latest_signals = sa.Table(
    "latest_signals",
    metadata,
    _fleet(),
    _device(),
    sa.Column("name", sa.String(128), nullable=False, doc="VSS signal name"),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("boot_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("value", Json, nullable=True),
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "name"),
)

trips = sa.Table(
    "trips",
    metadata,
    _fleet(),
    _device(),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("end_ms", sa.BigInteger, nullable=True, doc="null while the trip is open"),
    sa.Column("end_reason", sa.String(32), nullable=True, doc="trip_end / next_trip_start"),
    sa.Column("start_lat", sa.Float, nullable=True),
    sa.Column("start_lon", sa.Float, nullable=True),
    sa.Column("end_lat", sa.Float, nullable=True),
    sa.Column("end_lon", sa.Float, nullable=True),
    sa.Column("distance_km", sa.Float, nullable=True),
    sa.Column("max_speed_kmh", sa.Float, nullable=True),
    sa.Column("idle_ms", sa.BigInteger, nullable=False),
    sa.Column("positions", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "start_ms"),
)

idle_periods = sa.Table(
    "idle_periods",
    metadata,
    _fleet(),
    _device(),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("end_ms", sa.BigInteger, nullable=True, doc="null while still idling"),
    sa.PrimaryKeyConstraint("fleet_id", "device_id", "start_ms"),
)

device_status = sa.Table(
    "device_status",
    metadata,
    _fleet(),
    _device(),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=True, doc="time in the status message"),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.PrimaryKeyConstraint("fleet_id", "device_id"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False, doc="'' when the topic had none"),
    sa.Column("device_id", sa.String(64), nullable=False, doc="'' when the topic had none"),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index(None, "fleet_id", "received_ms"),
)

dirty_windows = sa.Table(
    "dirty_windows",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _fleet(),
    _device(),
    sa.Column("processor", sa.String(64), nullable=False),
    sa.Column("start_ms", sa.BigInteger, nullable=False, doc="event-time window to recompute"),
    sa.Column("end_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Index(None, "fleet_id", "device_id"),
)


# Feature tables live in their own modules on the same metadata; importing them here
# makes ``metadata`` complete for Alembic and the migration test.
from cloud.db import tables_alerts, tables_hos, tables_plans  # noqa: E402, F401
