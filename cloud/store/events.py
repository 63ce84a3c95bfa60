"""Events (trip_start, idle_end, dtc_new, ...) by event time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables import events


def events_page(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    *,
    names: Sequence[str] = (),
    after: tuple[int, int, int] | None = None,
) -> list[sa.Row[Any]]:
    """Events in [start_ms, end_ms] (optionally only ``names``) ordered by (time, boot, seq)."""
    t = events
    q = sa.select(t).where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
    if start_ms is not None:
        q = q.where(t.c.time_ms >= start_ms)
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    if names:
        q = q.where(t.c.name.in_(list(names)))
    if after is not None:
        q = q.where(sa.tuple_(t.c.time_ms, t.c.boot_id, t.c.seq) > sa.tuple_(*after))
    q = q.order_by(t.c.time_ms, t.c.boot_id, t.c.seq)
    return list(conn.execute(q.limit(limit)))


def last_event_at_or_before(
    conn: sa.Connection, fleet_id: str, device_id: str, names: Sequence[str], time_ms: int
) -> sa.Row[Any] | None:
    """The newest event named one of ``names`` with ``time_ms`` at or before the given time."""
    t = events
    return conn.execute(
        sa.select(t)
        .where(
            t.c.fleet_id == fleet_id,
            t.c.device_id == device_id,
            t.c.name.in_(list(names)),
            t.c.time_ms <= time_ms,
        )
        .order_by(t.c.time_ms.desc(), t.c.boot_id.desc(), t.c.seq.desc())
        .limit(1)
    ).first()


def first_event_after(
    conn: sa.Connection, fleet_id: str, device_id: str, names: Sequence[str], time_ms: int
) -> sa.Row[Any] | None:
    """The oldest event named one of ``names`` strictly after ``time_ms``."""
    t = events
    return conn.execute(
        sa.select(t)
        .where(
            t.c.fleet_id == fleet_id,
            t.c.device_id == device_id,
            t.c.name.in_(list(names)),
            t.c.time_ms > time_ms,
        )
        .order_by(t.c.time_ms, t.c.boot_id, t.c.seq)
        .limit(1)
    ).first()
