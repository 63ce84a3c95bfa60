"""Engine on/off from engine speed: ``ignition_on`` / ``ignition_off`` events.

On: rpm above ``ignition_rpm`` continuously for ``ignition_on_s``. Off: rpm at or below
the threshold, or no engine speed at all, for ``ignition_off_s``. Each event is stamped
with the time the change began (not when it was confirmed); ``since_ms`` keeps that time
so idle and trip detectors can end exactly there.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.detectors.common import DetectorParams, Reading, fresh
from agent.model import Event


@dataclass(frozen=True, slots=True)
class IgnitionState:
    on: bool = False
    since_ms: int | None = None  # time of the last confirmed on/off change
    change_since_ms: int | None = None  # when rpm first contradicted ``on``


def step(
    state: IgnitionState, r: Reading, params: DetectorParams
) -> tuple[IgnitionState, list[Event]]:
    rpm_fresh = fresh(r.rpm_ms, r.time_ms, params)
    running = rpm_fresh and r.rpm is not None and r.rpm > params.ignition_rpm
    if running == state.on:
        if state.change_since_ms is None:
            return state, []
        return IgnitionState(state.on, state.since_ms, None), []
    # A silent engine (stale rpm) changed when its last value arrived.
    since = state.change_since_ms
    if since is None:
        since = r.rpm_ms if r.rpm_ms is not None else r.time_ms
    confirm_ms = (params.ignition_off_s if state.on else params.ignition_on_s) * 1000
    if r.time_ms - since < confirm_ms:
        return IgnitionState(state.on, state.since_ms, since), []
    if state.on:
        return IgnitionState(False, since, None), [Event(since, "ignition_off")]
    return IgnitionState(True, since, None), [Event(since, "ignition_on", {"rpm": r.rpm})]
