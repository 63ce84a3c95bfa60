"""Latest position and latest engine values of a device, by EVENT time.

Offers the newest fix and each signal's newest value found in the window; the store keeps
whichever is newer by (time_ms, boot_id, seq), so late data never overwrites newer data.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.store import positions as pos_store
from cloud.store import records as rec_store
from wire.records import position_is_trusted


def process(
    conn: sa.Connection, fleet_id: str, device_id: str, window_start_ms: int, window_end_ms: int
) -> None:
    newest = _newest_fix(conn, fleet_id, device_id, window_start_ms, window_end_ms)
    if newest is not None:
        pos_store.offer_latest_position(
            conn, fleet_id, device_id, newest.time_ms, newest.boot_id, newest.seq, newest.data
        )
    best: dict[str, dict[str, Any]] = {}
    for row in rec_store.records_between(
        conn, fleet_id, device_id, "engine", window_start_ms, window_end_ms
    ):
        # Rows come oldest first, so a later one replaces an earlier one.
        for name, value in row.data.items():
            best[name] = {
                "name": name,
                "time_ms": row.time_ms,
                "boot_id": row.boot_id,
                "seq": row.seq,
                "value": value,
            }
    pos_store.offer_latest_signals(conn, fleet_id, device_id, list(best.values()))


def _newest_fix(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int
) -> Any:
    # A position without a usable fix never becomes "latest"; walk back from the newest.
    for row in pos_store.positions_between(conn, fleet_id, device_id, start_ms, end_ms)[::-1]:
        if (
            row.lat is not None
            and row.lon is not None
            and row.valid is not False
            and position_is_trusted(row.data or {})
        ):
            return row
    return None
