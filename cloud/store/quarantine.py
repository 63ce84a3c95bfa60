"""Quarantine: messages the cloud could not use, kept with the reason so nothing is lost silently."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.db.tables import quarantine


def quarantine_message(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    topic: str,
    payload: bytes,
    reason: str,
    received_ms: int,
) -> None:
    """Keep a rejected payload (bytes as received) with the reason it was rejected."""
    conn.execute(
        sa.insert(quarantine).values(
            fleet_id=fleet_id,
            device_id=device_id,
            topic=topic,
            payload=bytes(payload),
            reason=reason[:2000],
            received_ms=received_ms,
        )
    )


def list_quarantine(conn: sa.Connection, fleet_id: str, limit: int = 100) -> list[sa.Row[Any]]:
    q = quarantine
    return list(
        conn.execute(
            sa.select(q).where(q.c.fleet_id == fleet_id).order_by(q.c.id.desc()).limit(limit)
        )
    )


def count_quarantine(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one()
