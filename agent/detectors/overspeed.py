"""Overspeed: speed above ``overspeed_kmh`` for at least ``overspeed_min_s``.

``overspeed_start`` is stamped when the limit was first exceeded; ``overspeed_end`` when
speed fell below limit minus ``overspeed_hysteresis_kmh`` (or became unknown), with
``duration_s`` and ``max_speed_kmh``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.detectors.common import DetectorParams, Reading, speed_now
from agent.model import Event


@dataclass(frozen=True, slots=True)
class OverspeedState:
    since_ms: int | None = None
    active: bool = False
    max_kmh: float = 0.0


def step(
    state: OverspeedState, r: Reading, params: DetectorParams
) -> tuple[OverspeedState, list[Event]]:
    v = speed_now(r, params)
    limit = params.overspeed_kmh
    if v is not None and v > limit:
        since = state.since_ms
        if since is None:
            since = r.speed_ms if r.speed_ms is not None else r.time_ms
        top = max(state.max_kmh, v)
        if not state.active and r.time_ms - since >= params.overspeed_min_s * 1000:
            attrs = {"limit_kmh": limit, "speed_kmh": v, "speed_source": r.speed_source}
            return OverspeedState(since, True, top), [Event(since, "overspeed_start", attrs)]
        return OverspeedState(since, state.active, top), []
    if v is not None and v >= limit - params.overspeed_hysteresis_kmh and state.active:
        return state, []
    if state.since_ms is None:
        return state, []
    if not state.active:
        return OverspeedState(), []
    end = r.speed_ms if v is not None and r.speed_ms is not None else r.time_ms
    attrs = {
        "start_ms": state.since_ms,
        "duration_s": (end - state.since_ms) / 1000,
        "max_speed_kmh": state.max_kmh,
        "limit_kmh": limit,
    }
    return OverspeedState(), [Event(end, "overspeed_end", attrs)]
