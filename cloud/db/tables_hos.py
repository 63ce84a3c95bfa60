"""Core tables for hours of service (part of ``cloud.db.tables.metadata``).

``drivers``: each driver's HOS settings. ``duty_events``: one row per duty-status event
of a driver — from a vehicle's ELD record (``source = 'eld'``, keyed by the wire record
``device_id/boot_id/seq``) or entered through the API (``source = 'api'``). Edits never
overwrite: the edited row becomes ``inactive_changed`` and the new row names it in
``edit_of`` (49 CFR 395 Subpart B, Appendix A 4.3.2.8, 7.23). Times are UTC ms.
"""

from __future__ import annotations

import sqlalchemy as sa

from cloud.db.tables import Id, Json, metadata

drivers = sa.Table(
    "drivers",
    metadata,
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("driver_id", sa.String(64), nullable=False, doc="ELD username"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("ruleset", sa.String(32), nullable=False, doc="e.g. us_property_70_8"),
    sa.Column("exceptions", Json, nullable=False, doc="list of HOS exception names"),
    sa.Column("home_terminal_tz", sa.String(64), nullable=False, doc="IANA time zone"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("fleet_id", "driver_id"),
)

duty_events = sa.Table(
    "duty_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("fleet_id", sa.String(64), nullable=False),
    sa.Column("driver_id", sa.String(64), nullable=False, doc="ELD username or 'unidentified'"),
    sa.Column("source", sa.String(8), nullable=False, doc="eld (vehicle record) / api"),
    sa.Column("device_id", sa.String(64), nullable=True, doc="vehicle of an ELD record"),
    sa.Column("boot_id", sa.BigInteger, nullable=True, doc="wire record key of an ELD record"),
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("eld_seq", sa.Integer, nullable=True, doc="ELD event sequence id 0-65535"),
    sa.Column("time_ms", sa.BigInteger, nullable=False, doc="event time: the status starts"),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False, doc="auto / driver / cloud"),
    sa.Column("record_status", sa.String(24), nullable=False, doc="active / inactive_changed"),
    sa.Column("edit_of", sa.BigInteger, nullable=True, doc="id of the row this edit replaced"),
    sa.Column("note", sa.Text, nullable=True, doc="annotation / comment"),
    sa.Column("location", sa.Text, nullable=True, doc="driver's location description"),
    sa.Column("lat", sa.Float, nullable=True, doc="degrees WGS84, ELD precision"),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("odometer_km", sa.Float, nullable=True, doc="total odometer, km"),
    sa.Column("engine_hours", sa.Float, nullable=True, doc="h, basis in data"),
    sa.Column("data", Json, nullable=False, doc="the ELD record's attributes ({} for API)"),
    sa.Column("created_ms", sa.BigInteger, nullable=False, doc="when the cloud stored it"),
    # An ELD record gives exactly one row, however often it is processed.
    sa.UniqueConstraint("fleet_id", "device_id", "boot_id", "seq"),
    sa.Index(None, "fleet_id", "driver_id", "time_ms"),
)
