"""Trips and idle periods derived from the agent's events, plus the trip statistics queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables import idle_periods, positions, records, trips
from wire.records import position_is_trusted

ODOMETER = "Vehicle.TraveledDistance"  # km


def _in_range(table: sa.Table, lo: int, hi: int | None) -> list[sa.ColumnElement[bool]]:
    conds = [table.c.start_ms >= lo]
    if hi is not None:
        conds.append(table.c.start_ms < hi)
    return conds


def replace_intervals(
    conn: sa.Connection,
    table: sa.Table,
    fleet_id: str,
    device_id: str,
    lo: int,
    hi: int | None,
    rows: Sequence[dict[str, Any]],
) -> list[sa.Row[Any]]:
    """Replace the rows of ``table`` (trips / idle_periods) starting in [lo, hi); return the old ones."""
    scope = (table.c.fleet_id == fleet_id, table.c.device_id == device_id)
    old = list(conn.execute(sa.select(table).where(*scope, *_in_range(table, lo, hi))))
    conn.execute(table.delete().where(*scope, *_in_range(table, lo, hi)))
    if rows:
        conn.execute(
            sa.insert(table), [{"fleet_id": fleet_id, "device_id": device_id, **r} for r in rows]
        )
    return old


def replace_trips(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    lo: int,
    hi: int | None,
    rows: Sequence[dict[str, Any]],
) -> list[sa.Row[Any]]:
    """Replace the trips starting in [lo, hi) (hi None = open); return the old ones."""
    return replace_intervals(conn, trips, fleet_id, device_id, lo, hi, rows)


def replace_idle_periods(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    lo: int,
    hi: int | None,
    rows: Sequence[dict[str, Any]],
) -> list[sa.Row[Any]]:
    """Replace the idle periods starting in [lo, hi) (hi None = open); return the old ones."""
    return replace_intervals(conn, idle_periods, fleet_id, device_id, lo, hi, rows)


def idle_overlapping(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int | None
) -> list[sa.Row[Any]]:
    """Idle periods that overlap [start_ms, end_ms] (end None = open)."""
    t = idle_periods
    q = sa.select(t).where(
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        sa.or_(t.c.end_ms.is_(None), t.c.end_ms >= start_ms),
    )
    if end_ms is not None:
        q = q.where(t.c.start_ms <= end_ms)
    return list(conn.execute(q.order_by(t.c.start_ms)))


def position_stats(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int | None
) -> dict[str, Any]:
    """Count, max speed (m/s) and first/last fixed position in [start_ms, end_ms]."""
    t = positions
    scope = [t.c.fleet_id == fleet_id, t.c.device_id == device_id, t.c.time_ms >= start_ms]
    if end_ms is not None:
        scope.append(t.c.time_ms <= end_ms)
    count, max_speed = conn.execute(
        sa.select(sa.func.count(), sa.func.max(t.c.speed_mps)).where(*scope)
    ).one()
    fixed = [
        *scope,
        t.c.lat.is_not(None),
        t.c.lon.is_not(None),
        sa.or_(t.c.valid.is_(None), t.c.valid),
    ]
    order = (t.c.time_ms, t.c.boot_id, t.c.seq)

    def first_trusted(ordering: Any) -> Any:
        # Fixes the agent flagged unusable (0,0, jumps) are rare: look a little further.
        rows = conn.execute(
            sa.select(t.c.lat, t.c.lon, t.c.data).where(*fixed).order_by(*ordering).limit(50)
        ).all()
        return next((r for r in rows if position_is_trusted(r.data or {})), None)

    first = first_trusted(order)
    last = first_trusted(tuple(c.desc() for c in order))
    return {"count": count, "max_speed_mps": max_speed, "first": first, "last": last}


def fixed_track(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int | None
) -> list[tuple[float, float]]:
    """(lat, lon) of the valid fixes in [start_ms, end_ms], in event-time order."""
    t = positions
    q = sa.select(t.c.lat, t.c.lon, t.c.data).where(
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.time_ms >= start_ms,
        t.c.lat.is_not(None),
        t.c.lon.is_not(None),
        sa.or_(t.c.valid.is_(None), t.c.valid),
    )
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    rows = conn.execute(q.order_by(t.c.time_ms, t.c.boot_id, t.c.seq))
    return [(r.lat, r.lon) for r in rows if position_is_trusted(r.data or {})]


def odometer_span_km(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int | None
) -> float | None:
    """Odometer (``Vehicle.TraveledDistance``, km) at the last sample minus the first, or None."""
    t = records
    value = t.c.data[ODOMETER].as_float()
    scope = [
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.kind == "engine",
        t.c.time_ms >= start_ms,
        value.is_not(None),
    ]
    if end_ms is not None:
        scope.append(t.c.time_ms <= end_ms)
    order = (t.c.time_ms, t.c.boot_id, t.c.seq)
    cols = (value.label("km"), t.c.boot_id, t.c.seq)
    first = conn.execute(sa.select(*cols).where(*scope).order_by(*order).limit(1)).first()
    last = conn.execute(
        sa.select(*cols).where(*scope).order_by(*(c.desc() for c in order)).limit(1)
    ).first()
    if first is None or last is None or (first.boot_id, first.seq) == (last.boot_id, last.seq):
        return None  # fewer than two readings: no span
    return max(0.0, float(last.km) - float(first.km))


def trips_page(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    after_start_ms: int | None = None,
) -> list[sa.Row[Any]]:
    """Trips overlapping [start_ms, end_ms], ordered by start time, after ``after_start_ms``."""
    t = trips
    q = sa.select(t).where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
    if start_ms is not None:
        q = q.where(sa.or_(t.c.end_ms.is_(None), t.c.end_ms >= start_ms))
    if end_ms is not None:
        q = q.where(t.c.start_ms <= end_ms)
    if after_start_ms is not None:
        q = q.where(t.c.start_ms > after_start_ms)
    return list(conn.execute(q.order_by(t.c.start_ms).limit(limit)))


def all_trips(conn: sa.Connection, fleet_id: str, device_id: str) -> list[dict[str, Any]]:
    t = trips
    rows = conn.execute(
        sa.select(t)
        .where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
        .order_by(t.c.start_ms)
    )
    return [dict(r._mapping) for r in rows]


def all_idle(conn: sa.Connection, fleet_id: str, device_id: str) -> list[dict[str, Any]]:
    t = idle_periods
    rows = conn.execute(
        sa.select(t)
        .where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
        .order_by(t.c.start_ms)
    )
    return [dict(r._mapping) for r in rows]
