"""Trips and idle periods re-derived from the agent's trip_*/idle_* events for a window.

Intervals are keyed by their start event. For a window [ws, we] the processor recomputes
every interval that starts between the last start event before ws and the first start
event after we; those depend only on events in that range, so late or repeated
data yields exactly the intervals a live, in-order stream would have given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.store import events as ev_store
from cloud.store import trips as trip_store

TRIP_EVENTS = ("trip_start", "trip_end")
IDLE_EVENTS = ("idle_start", "idle_end")


@dataclass(frozen=True, slots=True)
class Interval:
    start_ms: int
    end_ms: int | None  # None while open
    end_reason: str | None


def derive_intervals(
    events: Iterable[tuple[int, str]], start_name: str, end_name: str
) -> list[Interval]:
    """Pair start/end events (``(time_ms, name)`` in event-time order) into intervals.

    A start while one is open closes the open one (reason ``next_start``); an end with
    nothing open is ignored; a second start in the same millisecond is the same start.
    """
    out: list[Interval] = []
    open_ms: int | None = None
    for time_ms, name in events:
        if name == start_name:
            if open_ms is not None:
                if time_ms == open_ms:
                    continue
                out.append(Interval(open_ms, time_ms, "next_start"))
            open_ms = time_ms
        elif name == end_name and open_ms is not None:
            out.append(Interval(open_ms, time_ms, end_name))
            open_ms = None
    if open_ms is not None:
        out.append(Interval(open_ms, None, None))
    return out


def _rederive(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    names: tuple[str, str],
    ws: int,
    we: int,
) -> tuple[int, int | None, list[Interval], list[sa.Row[Any]]]:
    """Intervals starting in [lo, hi) recomputed from events; returns lo, hi, new, events used."""
    # Strictly before ws: an interval closed by a start at exactly ws still includes ws.
    anchor = ev_store.last_event_at_or_before(conn, fleet_id, device_id, [names[0]], ws - 1)
    lo = anchor.time_ms if anchor is not None else ws
    nxt = ev_store.first_event_after(conn, fleet_id, device_id, [names[0]], we)
    hi = nxt.time_ms if nxt is not None else None
    rows = ev_store.events_page(conn, fleet_id, device_id, lo, hi, limit=1_000_000, names=names)
    derived = derive_intervals(((r.time_ms, r.name) for r in rows), *names)
    keep = [iv for iv in derived if iv.start_ms >= lo and (hi is None or iv.start_ms < hi)]
    return lo, hi, keep, rows


def process(
    conn: sa.Connection, fleet_id: str, device_id: str, window_start_ms: int, window_end_ms: int
) -> None:
    # Idle first: a trip's idle time is read from the idle periods.
    lo_i, hi_i, idle, _ = _rederive(
        conn, fleet_id, device_id, IDLE_EVENTS, window_start_ms, window_end_ms
    )
    old_idle = trip_store.replace_idle_periods(
        conn,
        fleet_id,
        device_id,
        lo_i,
        hi_i,
        [{"start_ms": iv.start_ms, "end_ms": iv.end_ms} for iv in idle],
    )
    # Trips touched by a changed idle period need their idle time recomputed too.
    ends = [iv.end_ms for iv in idle] + [r.end_ms for r in old_idle]
    trip_lo = min(window_start_ms, lo_i)
    trip_hi = window_end_ms
    if ends:
        trip_hi = (
            max(window_end_ms, *(e for e in ends if e is not None))
            if None not in ends
            else 2**62  # an open idle period reaches every later trip
        )
    lo, hi, found, _ = _rederive(conn, fleet_id, device_id, TRIP_EVENTS, trip_lo, trip_hi)
    rows = [_trip_row(conn, fleet_id, device_id, iv) for iv in found]
    trip_store.replace_trips(conn, fleet_id, device_id, lo, hi, rows)


def _trip_row(conn: sa.Connection, fleet_id: str, device_id: str, iv: Interval) -> dict[str, Any]:
    stats = trip_store.position_stats(conn, fleet_id, device_id, iv.start_ms, iv.end_ms)
    distance = trip_store.odometer_span_km(conn, fleet_id, device_id, iv.start_ms, iv.end_ms)
    if distance is None and stats["count"] > 1:
        track = trip_store.fixed_track(conn, fleet_id, device_id, iv.start_ms, iv.end_ms)
        distance = round(path_length_km(track), 6) if len(track) > 1 else None
    idle_ms = 0
    for p in trip_store.idle_overlapping(conn, fleet_id, device_id, iv.start_ms, iv.end_ms):
        # An idle period still open counts up to the trip's end; in an open trip, not yet.
        p_end = p.end_ms if p.end_ms is not None else iv.end_ms
        if p_end is None:
            continue
        t_end = iv.end_ms if iv.end_ms is not None else p_end
        idle_ms += max(0, min(p_end, t_end) - max(p.start_ms, iv.start_ms))
    first, last = stats["first"], stats["last"]
    max_speed = stats["max_speed_mps"]
    return {
        "start_ms": iv.start_ms,
        "end_ms": iv.end_ms,
        "end_reason": iv.end_reason,
        "start_lat": first.lat if first else None,
        "start_lon": first.lon if first else None,
        "end_lat": last.lat if last and iv.end_ms is not None else None,
        "end_lon": last.lon if last and iv.end_ms is not None else None,
        "distance_km": distance,
        "max_speed_kmh": round(max_speed * 3.6, 3) if max_speed is not None else None,
        "idle_ms": idle_ms,
        "positions": stats["count"],
    }


EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def path_length_km(track: list[tuple[float, float]]) -> float:
    """Great-circle length (km) of a (lat, lon) degree track."""
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(track):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return total
