"""Positions by event time and the latest position/engine values of a device."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.db.tables import latest_positions, latest_signals, positions
from cloud.store._sql import newer, upsert


def positions_page(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    after: tuple[int, int, int] | None = None,
) -> list[sa.Row[Any]]:
    """Positions with ``start_ms <= time_ms <= end_ms`` ordered by (time, boot, seq).

    ``after`` is the keyset cursor (time_ms, boot_id, seq) of the last row already returned.
    """
    t = positions
    q = sa.select(t).where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
    if start_ms is not None:
        q = q.where(t.c.time_ms >= start_ms)
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    if after is not None:
        q = q.where(sa.tuple_(t.c.time_ms, t.c.boot_id, t.c.seq) > sa.tuple_(*after))
    return list(conn.execute(q.order_by(t.c.time_ms, t.c.boot_id, t.c.seq).limit(limit)))


def positions_between(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int | None
) -> list[sa.Row[Any]]:
    """Every position in [start_ms, end_ms] (end None = open) in event-time order."""
    t = positions
    q = sa.select(t).where(
        t.c.fleet_id == fleet_id, t.c.device_id == device_id, t.c.time_ms >= start_ms
    )
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    return list(conn.execute(q.order_by(t.c.time_ms, t.c.boot_id, t.c.seq)))


def newest_position_between(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int
) -> sa.Row[Any] | None:
    """The newest position (by time, boot, seq) inside [start_ms, end_ms]."""
    t = positions
    return conn.execute(
        sa.select(t)
        .where(
            t.c.fleet_id == fleet_id,
            t.c.device_id == device_id,
            t.c.time_ms >= start_ms,
            t.c.time_ms <= end_ms,
        )
        .order_by(t.c.time_ms.desc(), t.c.boot_id.desc(), t.c.seq.desc())
        .limit(1)
    ).first()


def offer_latest_position(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    time_ms: int,
    boot_id: int,
    seq: int,
    data: dict[str, Any],
) -> None:
    """Make this the latest position unless a newer one (by event time) is already stored."""
    stmt = upsert(conn, latest_positions).values(
        fleet_id=fleet_id, device_id=device_id, time_ms=time_ms, boot_id=boot_id, seq=seq, data=data
    )
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["fleet_id", "device_id"],
        set_={"time_ms": ex.time_ms, "boot_id": ex.boot_id, "seq": ex.seq, "data": ex.data},
        where=newer(latest_positions, ex),
    )
    conn.execute(stmt)


def offer_latest_signals(
    conn: sa.Connection, fleet_id: str, device_id: str, rows: list[dict[str, Any]]
) -> None:
    """Per signal, keep the value with the newest (time_ms, boot_id, seq).

    ``rows`` hold name, time_ms, boot_id, seq, value.
    """
    if not rows:
        return
    stmt = upsert(conn, latest_signals)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["fleet_id", "device_id", "name"],
        set_={"time_ms": ex.time_ms, "boot_id": ex.boot_id, "seq": ex.seq, "value": ex.value},
        where=newer(latest_signals, ex),
    )
    conn.execute(stmt, [{"fleet_id": fleet_id, "device_id": device_id, **r} for r in rows])


def latest_position(conn: sa.Connection, fleet_id: str, device_id: str) -> sa.Row[Any] | None:
    t = latest_positions
    return conn.execute(
        sa.select(t).where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
    ).first()


def latest_signal_values(conn: sa.Connection, fleet_id: str, device_id: str) -> list[sa.Row[Any]]:
    t = latest_signals
    return list(
        conn.execute(
            sa.select(t)
            .where(t.c.fleet_id == fleet_id, t.c.device_id == device_id)
            .order_by(t.c.name)
        )
    )
