"""Harsh acceleration and braking from the speed derivative (m/s²).

Speed samples are differentiated over at least ``harsh_window_s`` (one CAN frame to the
next is too noisy); a gap longer than ``harsh_max_gap_s`` restarts the window. One event
per episode: the detector re-arms when the acceleration falls back under the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.detectors.common import DetectorParams, Reading, speed_now
from agent.model import Event


@dataclass(frozen=True, slots=True)
class HarshState:
    ref_ms: int | None = None
    ref_kmh: float = 0.0
    in_accel: bool = False
    in_brake: bool = False


def step(state: HarshState, r: Reading, params: DetectorParams) -> tuple[HarshState, list[Event]]:
    if not r.speed_new:
        return state, []
    v = speed_now(r, params)
    if v is None or r.speed_ms is None:
        return HarshState(), []
    if state.ref_ms is None:
        return HarshState(r.speed_ms, v), []
    dt_s = (r.speed_ms - state.ref_ms) / 1000
    if dt_s <= 0 or dt_s > params.harsh_max_gap_s:
        return HarshState(r.speed_ms, v), []
    if dt_s < params.harsh_window_s:
        return state, []
    accel = (v - state.ref_kmh) / 3.6 / dt_s
    events: list[Event] = []
    attrs = {
        "accel_mps2": round(accel, 2),
        "from_kmh": state.ref_kmh,
        "to_kmh": v,
        "speed_source": r.speed_source,
    }
    in_accel = accel >= params.harsh_accel_mps2
    in_brake = -accel >= params.harsh_brake_mps2
    if in_accel and not state.in_accel:
        events.append(Event(state.ref_ms, "harsh_accel", attrs))
    if in_brake and not state.in_brake:
        events.append(Event(state.ref_ms, "harsh_brake", attrs))
    return HarshState(r.speed_ms, v, in_accel, in_brake), events
