"""One home-terminal day of a driver's log: graph-grid segments and per-status totals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from .model import STATUSES, DutyEvent, HosInputError, from_epoch, iso_z
from .timeline import build_intervals, epoch_s, load_zone


def daily_log(
    events: Sequence[DutyEvent], day: date, tz: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Segments of ``day`` (local calendar day in ``tz``) clipped to the day, with totals.

    Each event lasts until the next event's start; the last until its ``end``, else until
    ``now`` when given, else until the end of the day. Time the events do not cover is
    reported as ``unknown_s``. Statuses are kept as logged (personal conveyance and yard
    moves are separate lines on the grid). Raises HosInputError for unusable input.
    """
    zone = load_zone(tz)
    if not isinstance(day, date) or isinstance(day, datetime):
        raise HosInputError(f"day must be a datetime.date, got {type(day).__name__}")
    day_start = int(datetime.combine(day, time(0), zone).timestamp())
    day_end = int(datetime.combine(day + timedelta(days=1), time(0), zone).timestamp())
    now_s = epoch_s(now, "now") if now is not None else None
    open_end = now_s if now_s is not None else day_end
    intervals = build_intervals(events, open_end_s=open_end, horizon_s=now_s, require_cover=False)
    segments: list[dict[str, Any]] = []
    totals = dict.fromkeys(STATUSES, 0)
    last: tuple[int, int, str] | None = None
    for s, e, status in intervals:
        s, e = max(s, day_start), min(e, day_end)
        if e <= s:
            continue
        totals[status] += e - s
        if last is not None and last[2] == status and last[1] == s:
            last = (last[0], e, status)
            segments[-1] = _seg(last, zone)
        else:
            last = (s, e, status)
            segments.append(_seg(last, zone))
    covered = sum(totals.values())
    return {
        "date": day.isoformat(),
        "home_terminal_tz": tz,
        "start": iso_z(from_epoch(day_start)),
        "end": iso_z(from_epoch(day_end)),
        "day_length_s": day_end - day_start,
        "segments": segments,
        "totals_s": totals,
        "unknown_s": day_end - day_start - covered,
    }


def _seg(piece: tuple[int, int, str], zone: Any) -> dict[str, Any]:
    s, e, status = piece
    return {
        "status": status,
        "start": iso_z(from_epoch(s)),
        "end": iso_z(from_epoch(e)),
        "start_local": from_epoch(s).astimezone(zone).isoformat(),
        "end_local": from_epoch(e).astimezone(zone).isoformat(),
        "duration_s": e - s,
    }
