"""Idling: engine running while the vehicle stands still longer than ``idle_min_s``.

``idle_start`` is stamped when idling began (engine on and stopped, whichever came later)
and emitted once it has lasted ``idle_min_s``; ``idle_end`` is stamped when the vehicle
moved off or the engine stopped, with ``duration_s`` and ``fuel_l`` burned while idling:
the total-fuel counter difference when the engine reports one, else the fuel rate (L/h)
integrated over the idle period.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.detectors.common import DetectorParams, Reading, fresh, speed_now
from agent.model import Event


@dataclass(frozen=True, slots=True)
class IdleState:
    since_ms: int | None = None  # idling candidate began
    idling: bool = False  # idle_start emitted
    fuel_start_l: float | None = None  # total fuel counter at since_ms
    fuel_integrated_l: float = 0.0
    last_ms: int | None = None
    last_rate_lph: float | None = None
    still_since_ms: int | None = None  # speed below moving_kmh continuously since


def _still_since(
    state: IdleState, r: Reading, v: float | None, params: DetectorParams
) -> int | None:
    if v is None or v >= params.moving_kmh:
        return None
    if state.still_since_ms is not None:
        return state.still_since_ms
    return r.speed_ms if r.speed_ms is not None else r.time_ms


def step(state: IdleState, r: Reading, params: DetectorParams) -> tuple[IdleState, list[Event]]:
    v = speed_now(r, params)
    rate = r.fuel_rate_lph if fresh(r.rpm_ms, r.time_ms, params) else None
    still = _still_since(state, r, v, params)
    if r.engine_on and still is not None:
        if state.since_ms is None:
            # Idling began when the engine came on or the vehicle stopped, whichever is later.
            since = max(still, r.engine_since_ms or still)
            fuel0 = rate * (r.time_ms - since) / 3_600_000 if rate is not None else 0.0
            return IdleState(since, False, r.fuel_used_l, fuel0, r.time_ms, rate, still), []
        fuel = state.fuel_integrated_l
        if state.last_ms is not None and state.last_rate_lph is not None:
            fuel += state.last_rate_lph * (r.time_ms - state.last_ms) / 3_600_000
        events: list[Event] = []
        idling = state.idling
        if not idling and r.time_ms - state.since_ms >= params.idle_min_s * 1000:
            idling = True
            events.append(Event(state.since_ms, "idle_start", {"speed_source": r.speed_source}))
        return (
            IdleState(state.since_ms, idling, state.fuel_start_l, fuel, r.time_ms, rate, still),
            events,
        )
    if state.since_ms is None:
        return (state if still == state.still_since_ms else IdleState(still_since_ms=still)), []
    if not state.idling:
        return IdleState(still_since_ms=still), []
    if not r.engine_on and r.engine_since_ms is not None:
        end, reason = r.engine_since_ms, "engine_off"
    else:
        end = r.speed_ms if r.speed_ms is not None else r.time_ms
        reason = "moving" if v is not None else "speed_unknown"
    fuel = state.fuel_integrated_l
    if state.last_ms is not None and state.last_rate_lph is not None and end > state.last_ms:
        fuel += state.last_rate_lph * (end - state.last_ms) / 3_600_000
    if state.fuel_start_l is not None and r.fuel_used_l is not None:
        fuel, method = r.fuel_used_l - state.fuel_start_l, "counter"
    elif state.last_rate_lph is not None or fuel > 0:
        method = "rate"
    else:
        fuel, method = None, "none"
    attrs = {
        "start_ms": state.since_ms,
        "duration_s": (end - state.since_ms) / 1000,
        "fuel_l": None if fuel is None else round(fuel, 3),
        "fuel_source": method,
        "end_reason": reason,
    }
    return IdleState(still_since_ms=still), [Event(end, "idle_end", attrs)]
