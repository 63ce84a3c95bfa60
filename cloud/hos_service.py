"""Hours of service computed on read: a driver's stored active duty events through the pure
calculator (``cloud.processors.hos``).

Nothing is cached: every answer is ``evaluate`` / ``daily_log`` over the events in the
database at the time of the request, so a late vehicle record or an edit changes every
result it affects. Enough history is loaded for every rule: ``HISTORY_MS`` (14 days)
before the evaluation time covers the 8-day cycle plus the 34-hour restart look-back and
the shift in progress; the status in force at the start of that span is included too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from cloud.processors.hos import DutyEvent, daily_log, evaluate
from cloud.store import hos as hos_store

DAY_MS = 86_400_000
MIN_MS = 315_532_800_000  # 1980-01-01: the calculator rejects earlier instants
HISTORY_MS = 14 * DAY_MS


def as_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def timeline(rows: Sequence[Any]) -> list[DutyEvent]:
    """Calculator events from duty rows (``time_ms``, ``id``, ``status``), oldest first.

    The calculator works in whole seconds and refuses two events in the same second;
    there the later row (by time, then id) stands: the earlier status lasted < 1 s.
    """
    ordered = sorted(rows, key=lambda r: (r.time_ms, r.id))
    out: list[DutyEvent] = []
    last_s: int | None = None
    for r in ordered:
        second = r.time_ms // 1000
        event = DutyEvent(datetime.fromtimestamp(second, UTC), r.status)
        if second == last_s:
            out[-1] = event
        else:
            out.append(event)
        last_s = second
    return out


def active_rows(
    conn: sa.Connection, fleet_id: str, driver_id: str, start_ms: int, end_ms: int
) -> list[Any]:
    """Active rows starting in [start_ms, end_ms] plus the one in force at ``start_ms``."""
    rows = hos_store.driver_events(conn, fleet_id, driver_id, start_ms, end_ms, active_only=True)
    anchor = hos_store.last_active_before(conn, fleet_id, driver_id, start_ms)
    return ([anchor] if anchor is not None else []) + rows


def clocks(conn: sa.Connection, fleet_id: str, driver: Any, at_ms: int) -> dict[str, Any]:
    """The calculator's JSON at ``at_ms`` plus the driver's current duty status."""
    rows = active_rows(conn, fleet_id, driver.driver_id, at_ms - HISTORY_MS, at_ms)
    events = timeline(rows)
    at = as_datetime(at_ms)
    result = evaluate(events, driver.ruleset, driver.exceptions, driver.home_terminal_tz, at)
    # The calculator leaves out events starting at or after ``now`` (whole seconds).
    current = [e for e in events if e.start < result.evaluated_at]
    out = result.to_json()
    out.update(
        driver_id=driver.driver_id,
        home_terminal_tz=driver.home_terminal_tz,
        current_status=current[-1].status if current else None,
        current_status_since=_iso(current[-1].start) if current else None,
    )
    return out


def violations(
    conn: sa.Connection, fleet_id: str, driver: Any, from_ms: int, to_ms: int, now_ms: int
) -> dict[str, Any]:
    """Violations overlapping [from_ms, to_ms], evaluated at min(to, now): the status in
    force now is not extended into the future."""
    at_ms = min(to_ms, now_ms)
    rows = active_rows(conn, fleet_id, driver.driver_id, from_ms - HISTORY_MS, at_ms)
    result = evaluate(
        timeline(rows),
        driver.ruleset,
        driver.exceptions,
        driver.home_terminal_tz,
        as_datetime(at_ms),
    )
    lo, hi = as_datetime(from_ms), as_datetime(to_ms)
    found = [v for v in result.violations if v.end > lo and v.start <= hi]
    return {
        "driver_id": driver.driver_id,
        "from": _iso(lo),
        "to": _iso(hi),
        "evaluated_at": _iso(result.evaluated_at),
        "ruleset": result.ruleset,
        "exceptions": list(result.exceptions),
        "violations": [
            {**v.to_json(), "duration_s": v.duration_s, "severity": v.severity} for v in found
        ],
    }


def daily(
    conn: sa.Connection, fleet_id: str, driver: Any, day: date, now_ms: int
) -> dict[str, Any]:
    """``daily_log`` of one home-terminal day, with the day's duty rows (edited originals
    included, marked by ``record_status``)."""
    zone = ZoneInfo(driver.home_terminal_tz)
    start_ms = int(datetime.combine(day, time(0), zone).timestamp()) * 1000
    end_ms = int(datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()) * 1000
    rows = active_rows(conn, fleet_id, driver.driver_id, start_ms, end_ms - 1)
    log = daily_log(timeline(rows), day, driver.home_terminal_tz, now=as_datetime(now_ms))
    log["driver_id"] = driver.driver_id
    log["events"] = hos_store.driver_events(
        conn, fleet_id, driver.driver_id, start_ms, end_ms - 1, active_only=False
    )
    return log


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
