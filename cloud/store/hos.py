"""Drivers and their duty-status events (tables ``drivers`` and ``duty_events``).

Record statuses follow Appendix A 7.23: ``active`` rows count for hours of service;
``inactive_changed`` rows are originals replaced by an edit and are kept forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables_hos import drivers, duty_events
from cloud.store._sql import upsert

ACTIVE = "active"
UPSERT_CHUNK = 500
INACTIVE_CHANGED = "inactive_changed"

# Columns of an ELD row that are re-derived from its vehicle record on every run; the
# row's id, record status and creation time are the cloud's own and are kept.
ELD_DERIVED = (
    "driver_id",
    "eld_seq",
    "time_ms",
    "status",
    "origin",
    "note",
    "lat",
    "lon",
    "odometer_km",
    "engine_hours",
    "data",
)


# ---------------------------------------------------------------- drivers
def get_driver(conn: sa.Connection, fleet_id: str, driver_id: str) -> sa.Row[Any] | None:
    t = drivers
    return conn.execute(
        sa.select(t).where(t.c.fleet_id == fleet_id, t.c.driver_id == driver_id)
    ).first()


def drivers_page(
    conn: sa.Connection, fleet_id: str, limit: int, after: str | None = None
) -> list[sa.Row[Any]]:
    """Drivers of a fleet ordered by id, after ``after``."""
    t = drivers
    q = sa.select(t).where(t.c.fleet_id == fleet_id)
    if after is not None:
        q = q.where(t.c.driver_id > after)
    return list(conn.execute(q.order_by(t.c.driver_id).limit(limit)))


def put_driver(
    conn: sa.Connection,
    fleet_id: str,
    driver_id: str,
    *,
    name: str,
    ruleset: str,
    exceptions: Sequence[str],
    home_terminal_tz: str,
    now_ms: int,
) -> bool:
    """Create or replace a driver's settings; True when the driver is new."""
    values = {
        "name": name,
        "ruleset": ruleset,
        "exceptions": list(exceptions),
        "home_terminal_tz": home_terminal_tz,
        "updated_ms": now_ms,
    }
    t = drivers
    created = get_driver(conn, fleet_id, driver_id) is None
    stmt = upsert(conn, t).values(
        fleet_id=fleet_id, driver_id=driver_id, created_ms=now_ms, **values
    )
    conn.execute(stmt.on_conflict_do_update(index_elements=["fleet_id", "driver_id"], set_=values))
    return created


# ---------------------------------------------------------------- duty events
def upsert_eld_rows(conn: sa.Connection, fleet_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or re-derive duty rows of ELD records (each row holds device/boot/seq)."""
    t = duty_events
    # Chunks keep one statement under SQLite's limit of bound parameters.
    for i in range(0, len(rows), UPSERT_CHUNK):
        stmt = upsert(conn, t).values(
            [
                {"fleet_id": fleet_id, "source": "eld", "record_status": ACTIVE, **r}
                for r in rows[i : i + UPSERT_CHUNK]
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["fleet_id", "device_id", "boot_id", "seq"],
            set_={c: getattr(stmt.excluded, c) for c in ELD_DERIVED},
        )
        conn.execute(stmt)


def insert_api_row(conn: sa.Connection, fleet_id: str, row: dict[str, Any]) -> int:
    """Insert a duty event entered through the API; returns its id."""
    values = {
        "fleet_id": fleet_id,
        "source": "api",
        "record_status": ACTIVE,
        "data": {},
        **row,
    }
    result = conn.execute(sa.insert(duty_events).values(values).returning(duty_events.c.id))
    return int(result.scalar_one())


def get_duty_event(conn: sa.Connection, fleet_id: str, event_id: int) -> sa.Row[Any] | None:
    t = duty_events
    return conn.execute(sa.select(t).where(t.c.fleet_id == fleet_id, t.c.id == event_id)).first()


def mark_changed(conn: sa.Connection, fleet_id: str, event_id: int) -> bool:
    """Make an active row ``inactive_changed``; False when it was no longer active."""
    t = duty_events
    result = conn.execute(
        t.update()
        .where(t.c.fleet_id == fleet_id, t.c.id == event_id, t.c.record_status == ACTIVE)
        .values(record_status=INACTIVE_CHANGED)
    )
    return result.rowcount == 1


def driver_events(
    conn: sa.Connection,
    fleet_id: str,
    driver_id: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    active_only: bool,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
) -> list[sa.Row[Any]]:
    """A driver's duty rows starting in [start_ms, end_ms], by (time_ms, id)."""
    t = duty_events
    q = sa.select(t).where(t.c.fleet_id == fleet_id, t.c.driver_id == driver_id)
    if active_only:
        q = q.where(t.c.record_status == ACTIVE)
    if start_ms is not None:
        q = q.where(t.c.time_ms >= start_ms)
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    if after is not None:
        q = q.where(sa.tuple_(t.c.time_ms, t.c.id) > sa.tuple_(*after))
    q = q.order_by(t.c.time_ms, t.c.id)
    if limit is not None:
        q = q.limit(limit)
    return list(conn.execute(q))


def last_active_before(
    conn: sa.Connection, fleet_id: str, driver_id: str, time_ms: int
) -> sa.Row[Any] | None:
    """The driver's newest active row starting strictly before ``time_ms``."""
    t = duty_events
    return conn.execute(
        sa.select(t)
        .where(
            t.c.fleet_id == fleet_id,
            t.c.driver_id == driver_id,
            t.c.record_status == ACTIVE,
            t.c.time_ms < time_ms,
        )
        .order_by(t.c.time_ms.desc(), t.c.id.desc())
        .limit(1)
    ).first()
