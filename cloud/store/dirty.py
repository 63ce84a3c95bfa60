"""Dirty windows: event-time ranges a processor failed on, to be recomputed on the next batch."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.db.tables import dirty_windows


def mark_dirty(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    processor: str,
    start_ms: int,
    end_ms: int,
    error: str,
    created_ms: int,
) -> None:
    conn.execute(
        sa.insert(dirty_windows).values(
            fleet_id=fleet_id,
            device_id=device_id,
            processor=processor,
            start_ms=start_ms,
            end_ms=end_ms,
            error=error[:2000],
            created_ms=created_ms,
        )
    )


def pending_windows(conn: sa.Connection, fleet_id: str, device_id: str) -> list[sa.Row[Any]]:
    d = dirty_windows
    return list(
        conn.execute(
            sa.select(d)
            .where(d.c.fleet_id == fleet_id, d.c.device_id == device_id)
            .order_by(d.c.id)
        )
    )


def clear_windows(conn: sa.Connection, fleet_id: str, ids: list[int]) -> None:
    if ids:
        conn.execute(
            dirty_windows.delete().where(
                dirty_windows.c.fleet_id == fleet_id, dirty_windows.c.id.in_(ids)
            )
        )


def count_dirty(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(dirty_windows)).scalar_one()
