"""Trips from vehicle movement: ``trip_start`` / ``trip_end`` with distance (km) and duration (s).

A trip starts when speed stays at or above ``moving_kmh`` for ``trip_start_s`` (stamped at
the first moving sample) and ends when the vehicle has stopped and either the engine went
off or it stayed stopped for ``trip_end_stop_s`` (stamped when it stopped). Distance is the
odometer difference when the vehicle reports one, else the integrated speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.detectors.common import DetectorParams, Reading, speed_now
from agent.model import Event


@dataclass(frozen=True, slots=True)
class TripState:
    in_trip: bool = False
    moving_since_ms: int | None = None
    start_odometer_km: float | None = None
    distance_km: float = 0.0  # integrated from speed since moving_since_ms
    last_kmh: float | None = None
    last_ms: int | None = None
    stopped_since_ms: int | None = None
    engine_seen_on: bool = False


def step(state: TripState, r: Reading, params: DetectorParams) -> tuple[TripState, list[Event]]:
    v = speed_now(r, params)
    moving = v is not None and v >= params.moving_kmh
    dist, last_kmh, last_ms = state.distance_km, state.last_kmh, state.last_ms
    if r.speed_new and v is not None and r.speed_ms is not None:
        if last_ms is not None and last_kmh is not None:
            dt_s = (r.speed_ms - last_ms) / 1000
            if 0 < dt_s <= params.signal_stale_s:
                dist += (last_kmh + v) / 2 * dt_s / 3600
        last_kmh, last_ms = v, r.speed_ms
    if not state.in_trip:
        if not moving:
            return TripState(last_kmh=last_kmh, last_ms=last_ms), []
        since = state.moving_since_ms
        if since is None:
            since = r.speed_ms if r.speed_ms is not None else r.time_ms
            return (
                TripState(False, since, r.odometer_km, 0.0, last_kmh, last_ms),
                [],
            )
        if r.time_ms - since < params.trip_start_s * 1000:
            return TripState(False, since, state.start_odometer_km, dist, last_kmh, last_ms), []
        attrs = {"odometer_km": state.start_odometer_km, "speed_source": r.speed_source}
        new = TripState(
            True, since, state.start_odometer_km, dist, last_kmh, last_ms, None, r.engine_on
        )
        return new, [Event(since, "trip_start", attrs)]

    engine_seen_on = state.engine_seen_on or r.engine_on
    if moving:
        return (
            TripState(
                True,
                state.moving_since_ms,
                state.start_odometer_km,
                dist,
                last_kmh,
                last_ms,
                None,
                engine_seen_on,
            ),
            [],
        )
    stopped = state.stopped_since_ms
    if stopped is None:
        stopped = r.speed_ms if v is not None and r.speed_ms is not None else r.time_ms
    engine_off = engine_seen_on and not r.engine_on
    if not engine_off and r.time_ms - stopped < params.trip_end_stop_s * 1000:
        return (
            TripState(
                True,
                state.moving_since_ms,
                state.start_odometer_km,
                dist,
                last_kmh,
                last_ms,
                stopped,
                engine_seen_on,
            ),
            [],
        )
    start = state.moving_since_ms if state.moving_since_ms is not None else stopped
    odo_km = None
    if state.start_odometer_km is not None and r.odometer_km is not None:
        odo_km = r.odometer_km - state.start_odometer_km
    if odo_km is not None and odo_km >= 0:  # a reset or swapped odometer falls back
        distance, method = odo_km, "odometer"
    else:
        distance, method = dist, "speed"
    attrs = {
        "start_ms": start,
        "distance_km": round(distance, 3),
        "distance_source": method,
        "duration_s": (stopped - start) / 1000,
        "end_reason": "engine_off" if engine_off else "stopped",
    }
    return TripState(last_kmh=last_kmh, last_ms=last_ms), [Event(stopped, "trip_end", attrs)]
