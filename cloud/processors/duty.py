"""HOS: duty-status events from vehicles (ELD records) into the drivers' logs.

``process(conn, fleet_id, device_id, start_ms, end_ms)`` re-derives one ``duty_events``
row for every stored ``eld_duty_status`` event of the device in the event-time window.
Each row depends on its own event only (the agent stamps driver, status and origin on
every ELD event), and rows are keyed by the event's wire identity (device, boot, seq), so
late, repeated or out-of-order delivery gives exactly the rows of a live, in-order stream.

What is not turned into duty-status rows, and why (Appendix A 4.4.1.3: no automatic
status change other than driving / the unanswered prompt): login and logout (a logout
leaves the driver's status as it was; a login starts no new status), engine power
events and intermediate logs. Personal conveyance and yard moves arrive as their own
``eld_duty_status`` statuses (the agent's type 3 indications) and are kept as such.
An event that cannot be used (unknown status, no driver) is logged and skipped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from cloud.logs import kv
from cloud.processors.hos import STATUSES
from cloud.store import events as ev_store
from cloud.store import hos as hos_store

log = logging.getLogger(__name__)

EV_DUTY = "eld_duty_status"
ORIGINS = frozenset({"auto", "driver", "cloud"})
MAX_DRIVER_ID = 64  # column width

#: Events skipped since start, by reason (for health and tests).
skipped: Counter[str] = Counter()


def process(conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int) -> None:
    events = ev_store.events_page(
        conn, fleet_id, device_id, start_ms, end_ms, limit=10_000_000, names=[EV_DUTY]
    )
    rows: list[dict[str, Any]] = []
    for ev in events:
        row, problem = duty_row(device_id, ev.boot_id, ev.seq, ev.time_ms, ev.data)
        if row is None:
            skipped[problem] += 1
            log.warning(
                kv(
                    "duty_event_skipped",
                    fleet=fleet_id,
                    device=device_id,
                    boot=ev.boot_id,
                    seq=ev.seq,
                    reason=problem,
                )
            )
            continue
        rows.append(row)
    hos_store.upsert_eld_rows(conn, fleet_id, rows)


def duty_row(
    device_id: str, boot_id: int, seq: int, time_ms: int, attrs: Any
) -> tuple[dict[str, Any] | None, str]:
    """The ``duty_events`` row of one ``eld_duty_status`` event, or (None, why not)."""
    if not isinstance(attrs, dict):
        return None, "attributes are not an object"
    status = attrs.get("status")
    if status not in STATUSES:
        return None, f"unknown status {status!r}"
    driver = attrs.get("driver_id")
    if not isinstance(driver, str) or not 1 <= len(driver) <= MAX_DRIVER_ID:
        return None, f"driver_id {driver!r} is not a string of 1-{MAX_DRIVER_ID} characters"
    origin = attrs.get("origin")
    if origin not in ORIGINS:
        return None, f"unknown origin {origin!r}"
    eld_seq = attrs.get("eld_seq")
    note = attrs.get("note")
    row = {
        "device_id": device_id,
        "boot_id": boot_id,
        "seq": seq,
        "eld_seq": eld_seq if _is_int(eld_seq) and 0 <= eld_seq <= 0xFFFF else None,
        "time_ms": time_ms,
        "status": status,
        "origin": origin,
        "driver_id": driver,
        "note": note if isinstance(note, str) and note else None,
        "lat": _num(attrs.get("lat")),
        "lon": _num(attrs.get("lon")),
        "odometer_km": _num(attrs.get("odometer_km")),
        "engine_hours": _num(attrs.get("engine_hours")),
        "data": attrs,
        "created_ms": time.time_ns() // 1_000_000,  # kept from the first run
    }
    return row, ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)
