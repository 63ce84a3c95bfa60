"""Preventive-maintenance schedules: due points, status and a forecast due date (pure).

A schedule repeats every ``every_km`` of odometer (km), ``every_h`` engine hours (h) and/or
``every_days`` of calendar time, whichever comes first, counted from a baseline: the last
completed service, or the vehicle's first reading once the schedule exists. It is
``due_soon`` within ``due_soon_*`` of a due point and ``overdue`` past one.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 86_400_000
OK, DUE_SOON, OVERDUE = "ok", "due_soon", "overdue"
_ORDER = {OK: 0, DUE_SOON: 1, OVERDUE: 2}


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    name: str
    every_km: float | None
    every_h: float | None
    every_days: float | None
    due_soon_km: float = 0.0
    due_soon_h: float = 0.0
    due_soon_days: float = 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """Where the current interval started: a service or the first reading (UTC ms, km, h)."""

    time_ms: int
    odometer_km: float | None
    engine_h: float | None


@dataclass(frozen=True, slots=True)
class DuePoints:
    due_km: float | None
    due_h: float | None
    due_ms: int | None
    soon_km: float | None
    soon_h: float | None
    soon_ms: int | None


def due_points(s: Schedule, b: Baseline) -> DuePoints:
    due_km = b.odometer_km + s.every_km if s.every_km and b.odometer_km is not None else None
    due_h = b.engine_h + s.every_h if s.every_h and b.engine_h is not None else None
    due_ms = b.time_ms + int(s.every_days * DAY_MS) if s.every_days else None
    return DuePoints(
        due_km,
        due_h,
        due_ms,
        due_km - s.due_soon_km if due_km is not None else None,
        due_h - s.due_soon_h if due_h is not None else None,
        due_ms - int(s.due_soon_days * DAY_MS) if due_ms is not None else None,
    )


def status(
    d: DuePoints, odometer_km: float | None, engine_h: float | None, now_ms: int
) -> tuple[str, list[str]]:
    """(``ok`` | ``due_soon`` | ``overdue``, the measures that put it there)."""
    worst, reasons = OK, []
    for measure, value, soon, due in (
        ("odometer", odometer_km, d.soon_km, d.due_km),
        ("engine_hours", engine_h, d.soon_h, d.due_h),
        ("calendar", now_ms, d.soon_ms, d.due_ms),
    ):
        if value is None or due is None:
            continue
        here = OVERDUE if value >= due else DUE_SOON if soon is not None and value >= soon else OK
        if here != OK:
            reasons.append(f"{measure} {here}")
        if _ORDER[here] > _ORDER[worst]:
            worst = here
    return worst, reasons


def forecast_due_ms(
    d: DuePoints,
    odometer_km: float | None,
    engine_h: float | None,
    now_ms: int,
    km_per_day: float | None,
    h_per_day: float | None,
) -> int | None:
    """The earliest date a due point is reached at the vehicle's average daily use."""
    dates: list[int] = []
    if d.due_ms is not None:
        dates.append(d.due_ms)
    if d.due_km is not None and odometer_km is not None and km_per_day and km_per_day > 0:
        dates.append(now_ms + int(max(0.0, d.due_km - odometer_km) / km_per_day * DAY_MS))
    if d.due_h is not None and engine_h is not None and h_per_day and h_per_day > 0:
        dates.append(now_ms + int(max(0.0, d.due_h - engine_h) / h_per_day * DAY_MS))
    return min(dates) if dates else None
