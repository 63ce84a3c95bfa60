"""Vehicles (one row per device of a fleet) and their last MQTT status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.db.tables import device_status, vehicles
from cloud.store._sql import upsert


def touch_vehicle(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    received_ms: int,
    *,
    boot_id: int | None = None,
    event_ms: int | None = None,
    sent_ms: int | None = None,
) -> None:
    """Create or update the vehicle row; also serialises concurrent ingest of one device.

    ``event_ms`` (newest record time) only moves forward, so late data never rewinds it.
    """
    stmt = upsert(conn, vehicles).values(
        fleet_id=fleet_id,
        device_id=device_id,
        first_seen_ms=received_ms,
        last_seen_ms=received_ms,
        last_event_ms=event_ms,
        last_boot_id=boot_id,
        last_sent_ms=sent_ms,
    )
    ex = stmt.excluded
    t = vehicles.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["fleet_id", "device_id"],
        set_={
            "last_seen_ms": sa.func.max(t.last_seen_ms, ex.last_seen_ms)
            if conn.dialect.name == "sqlite"
            else sa.func.greatest(t.last_seen_ms, ex.last_seen_ms),
            "last_event_ms": sa.case(
                (ex.last_event_ms.is_(None), t.last_event_ms),
                (t.last_event_ms.is_(None), ex.last_event_ms),
                (ex.last_event_ms > t.last_event_ms, ex.last_event_ms),
                else_=t.last_event_ms,
            ),
            "last_boot_id": sa.func.coalesce(ex.last_boot_id, t.last_boot_id),
            "last_sent_ms": sa.func.coalesce(ex.last_sent_ms, t.last_sent_ms),
        },
    )
    conn.execute(stmt)


def set_status(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    state: str,
    data: dict[str, Any],
    received_ms: int,
    time_ms: int | None,
) -> bool:
    """Store a status message unless a newer one (by its own ``time_ms``) is already stored."""
    stmt = upsert(conn, device_status).values(
        fleet_id=fleet_id,
        device_id=device_id,
        state=state,
        time_ms=time_ms,
        received_ms=received_ms,
        data=data,
    )
    ex = stmt.excluded
    t = device_status.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["fleet_id", "device_id"],
        set_={
            "state": ex.state,
            "time_ms": ex.time_ms,
            "received_ms": ex.received_ms,
            "data": ex.data,
        },
        where=sa.or_(ex.time_ms.is_(None), t.time_ms.is_(None), ex.time_ms >= t.time_ms),
    )
    # RETURNING tells whether a row was written on both dialects (rowcount does not).
    changed = conn.execute(stmt.returning(device_status.c.state)).first() is not None
    if changed:
        conn.execute(
            vehicles.update()
            .where(vehicles.c.fleet_id == fleet_id, vehicles.c.device_id == device_id)
            .values(last_status=state)
        )
    return changed


def list_vehicles(
    conn: sa.Connection, fleet_id: str, limit: int, after: str | None = None
) -> list[sa.Row[Any]]:
    """Vehicles of a fleet ordered by device id, ``limit`` at most, after device id ``after``."""
    q = sa.select(vehicles).where(vehicles.c.fleet_id == fleet_id)
    if after is not None:
        q = q.where(vehicles.c.device_id > after)
    return list(conn.execute(q.order_by(vehicles.c.device_id).limit(limit)))


def get_vehicle(conn: sa.Connection, fleet_id: str, device_id: str) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(vehicles).where(
            vehicles.c.fleet_id == fleet_id, vehicles.c.device_id == device_id
        )
    ).first()


def get_status(conn: sa.Connection, fleet_id: str, device_id: str) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(device_status).where(
            device_status.c.fleet_id == fleet_id, device_status.c.device_id == device_id
        )
    ).first()


def count_vehicles(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar_one()
