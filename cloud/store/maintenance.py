"""Maintenance schedules, completed services and odometer / engine-hours readings by event time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables import records
from cloud.db.tables_alerts import maintenance_schedules, maintenance_services

ODOMETER = "Vehicle.TraveledDistance"  # km
ENGINE_HOURS = "Vehicle.Powertrain.CombustionEngine.EngineHours"  # h


def create_schedule(conn: sa.Connection, fleet_id: str, values: dict[str, Any], now_ms: int) -> int:
    return int(
        conn.execute(
            sa.insert(maintenance_schedules).values(fleet_id=fleet_id, created_ms=now_ms, **values)
        ).inserted_primary_key[0]
    )


def list_schedules(conn: sa.Connection, fleet_id: str) -> list[sa.Row[Any]]:
    s = maintenance_schedules
    return list(conn.execute(sa.select(s).where(s.c.fleet_id == fleet_id).order_by(s.c.id)))


def get_schedule(conn: sa.Connection, fleet_id: str, schedule_id: int) -> sa.Row[Any] | None:
    s = maintenance_schedules
    return conn.execute(sa.select(s).where(s.c.fleet_id == fleet_id, s.c.id == schedule_id)).first()


def update_schedule(
    conn: sa.Connection, fleet_id: str, schedule_id: int, values: dict[str, Any]
) -> sa.Row[Any] | None:
    s = maintenance_schedules
    if values:
        conn.execute(
            s.update().where(s.c.fleet_id == fleet_id, s.c.id == schedule_id).values(**values)
        )
    return get_schedule(conn, fleet_id, schedule_id)


def delete_schedule(conn: sa.Connection, fleet_id: str, schedule_id: int) -> bool:
    s = maintenance_schedules
    return bool(
        conn.execute(s.delete().where(s.c.fleet_id == fleet_id, s.c.id == schedule_id)).rowcount
    )


def schedules_for(conn: sa.Connection, fleet_id: str, device_id: str) -> list[sa.Row[Any]]:
    """Schedules that apply to a vehicle: fleet-wide ones and those naming it."""
    return [
        s
        for s in list_schedules(conn, fleet_id)
        if s.device_ids is None or device_id in (s.device_ids or [])
    ]


def add_service(conn: sa.Connection, fleet_id: str, values: dict[str, Any], now_ms: int) -> int:
    return int(
        conn.execute(
            sa.insert(maintenance_services).values(fleet_id=fleet_id, created_ms=now_ms, **values)
        ).inserted_primary_key[0]
    )


def last_service(
    conn: sa.Connection, fleet_id: str, device_id: str, schedule_id: int
) -> sa.Row[Any] | None:
    v = maintenance_services
    return conn.execute(
        sa.select(v)
        .where(v.c.fleet_id == fleet_id, v.c.device_id == device_id, v.c.schedule_id == schedule_id)
        .order_by(v.c.done_ms.desc(), v.c.id.desc())
        .limit(1)
    ).first()


def services_of(conn: sa.Connection, fleet_id: str, device_id: str) -> list[sa.Row[Any]]:
    v = maintenance_services
    return list(
        conn.execute(
            sa.select(v)
            .where(v.c.fleet_id == fleet_id, v.c.device_id == device_id)
            .order_by(v.c.done_ms, v.c.id)
        )
    )


def _value(signal: str) -> Any:
    return records.c.data[signal].as_float()


def _scope(fleet_id: str, device_id: str, signal: str) -> list[sa.ColumnElement[bool]]:
    t = records
    return [
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.kind == "engine",
        _value(signal).is_not(None),
    ]


_ORDER = (records.c.time_ms, records.c.boot_id, records.c.seq)


def first_reading(
    conn: sa.Connection, fleet_id: str, device_id: str, signal: str, at_or_after_ms: int
) -> tuple[int, float] | None:
    """(time_ms, value) of the first sample of ``signal`` at or after a time."""
    row = conn.execute(
        sa.select(records.c.time_ms, _value(signal).label("v"))
        .where(*_scope(fleet_id, device_id, signal), records.c.time_ms >= at_or_after_ms)
        .order_by(*_ORDER)
        .limit(1)
    ).first()
    return (int(row.time_ms), float(row.v)) if row is not None else None


def reading_at_or_before(
    conn: sa.Connection, fleet_id: str, device_id: str, signal: str, time_ms: int | None = None
) -> tuple[int, float] | None:
    """(time_ms, value) of the newest sample of ``signal`` at or before a time (None: ever)."""
    q = sa.select(records.c.time_ms, _value(signal).label("v")).where(
        *_scope(fleet_id, device_id, signal)
    )
    if time_ms is not None:
        q = q.where(records.c.time_ms <= time_ms)
    row = conn.execute(q.order_by(*(c.desc() for c in _ORDER)).limit(1)).first()
    return (int(row.time_ms), float(row.v)) if row is not None else None


def first_crossing(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    signal: str,
    threshold: float,
    after_ms: int,
) -> tuple[int, float] | None:
    """(time_ms, value) of the first sample at or after ``after_ms`` with value >= threshold."""
    row = conn.execute(
        sa.select(records.c.time_ms, _value(signal).label("v"))
        .where(
            *_scope(fleet_id, device_id, signal),
            records.c.time_ms >= after_ms,
            _value(signal) >= threshold,
        )
        .order_by(*_ORDER)
        .limit(1)
    ).first()
    return (int(row.time_ms), float(row.v)) if row is not None else None


def newest_record_ms(conn: sa.Connection, fleet_id: str, device_id: str) -> int | None:
    """Event time of the device's newest stored record of any kind."""
    t = records
    return conn.execute(
        sa.select(sa.func.max(t.c.time_ms)).where(
            t.c.fleet_id == fleet_id, t.c.device_id == device_id
        )
    ).scalar()


def engine_samples_with(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    names: tuple[str, ...],
    start_ms: int | None,
    end_ms: int | None,
) -> list[sa.Row[Any]]:
    """Engine records in [start_ms, end_ms] holding any of ``names`` (a number), oldest first."""
    t = records
    q = sa.select(t.c.time_ms, t.c.data).where(
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.kind == "engine",
        sa.or_(*(_value(n).is_not(None) for n in names)),
    )
    if start_ms is not None:
        q = q.where(t.c.time_ms >= start_ms)
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    return list(conn.execute(q.order_by(*_ORDER)))


def any_reading(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    names: Sequence[str],
    start_ms: int,
    end_ms: int,
) -> bool:
    """Whether any engine sample in [start_ms, end_ms] carries one of ``names`` (a bounded,
    indexed look: the cheap test before any unbounded search)."""
    t = records
    q = sa.select(t.c.time_ms).where(
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.kind == "engine",
        t.c.time_ms >= start_ms,
        t.c.time_ms <= end_ms,
        sa.or_(*(_value(n).is_not(None) for n in names)),
    )
    return conn.execute(q.limit(1)).first() is not None


def has_reading(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    signal: str,
    *,
    before_ms: int | None = None,
    after_ms: int | None = None,
) -> int | None:
    """Time of the oldest sample of ``signal`` before ``before_ms`` / newest after ``after_ms``."""
    q = sa.select(records.c.time_ms).where(*_scope(fleet_id, device_id, signal))
    if before_ms is not None:
        q = q.where(records.c.time_ms < before_ms).order_by(*_ORDER)
    if after_ms is not None:
        q = q.where(records.c.time_ms > after_ms).order_by(*(c.desc() for c in _ORDER))
    return conn.execute(q.limit(1)).scalar()
