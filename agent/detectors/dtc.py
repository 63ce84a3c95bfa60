"""Diagnostic trouble codes appearing and clearing: ``dtc_new`` / ``dtc_cleared`` (fault lane).

Every fault-list observation (J1939 DM1 per source address, OBD-II stored/pending/
permanent DTC reads per ECU) replaces the list for its channel (signal name + source).
A fault not in the previous list is new; one that disappeared is cleared. The occurrence
count does not make a fault new. ``dtc_new`` carries the engine values at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.detectors.common import DetectorParams, Reading
from agent.model import LANE_FAULT, Event

FaultKey = tuple[str, str, tuple[tuple[str, Any], ...]]  # (channel name, source, identity)


@dataclass(frozen=True, slots=True)
class DtcState:
    active: frozenset[FaultKey] = frozenset()


def _faults(value: Any) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    if isinstance(value, dict):  # J1939 DM1: {"lamps": ..., "faults": [...]}
        return list(value.get("faults", [])), value.get("lamps")
    return list(value), None  # OBD: [{"code", "kind"}, ...]


def _identity(fault: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    # The occurrence count changes while a fault stays active; it is not part of its identity.
    return tuple(sorted((k, v) for k, v in fault.items() if k != "oc"))


def step(state: DtcState, r: Reading, params: DetectorParams) -> tuple[DtcState, list[Event]]:
    if r.faults is None:
        return state, []
    name, source, value = r.faults
    if value is None:
        return state, []
    faults, lamps = _faults(value)
    current = {(name, source, _identity(f)): f for f in faults}
    previous = {k for k in state.active if k[0] == name and k[1] == source}
    events: list[Event] = []
    for key, fault in current.items():
        if key not in previous:
            attrs: dict[str, Any] = {"fault": fault, "source": source, "signal": name}
            if lamps is not None:
                attrs["lamps"] = lamps
            attrs["snapshot"] = r.freeze_frame or {}
            events.append(Event(r.time_ms, "dtc_new", attrs, LANE_FAULT))
    for key in sorted(previous - current.keys()):
        fault = dict(key[2])
        events.append(
            Event(
                r.time_ms,
                "dtc_cleared",
                {"fault": fault, "source": source, "signal": name},
                LANE_FAULT,
            )
        )
    if not events:
        return state, []
    return DtcState((state.active - previous) | current.keys()), events
