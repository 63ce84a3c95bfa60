"""What flows through the agent's pipeline: observations in, events out.

All times are UTC milliseconds since the Unix epoch (event time: when it happened on
the vehicle, from GNSS where possible). Units are part of the signal name or given
explicitly; never guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Outbox lanes, in eviction order: samples are thinned first, eld and fault never go.
LANE_ELD = "eld"
LANE_FAULT = "fault"
LANE_EVENT = "event"
LANE_SAMPLE = "sample"
LANE_SYSTEM = "system"  # the agent's own reports (e.g. evictions): small, never evicted
NEVER_EVICTED = frozenset({LANE_ELD, LANE_FAULT, LANE_SYSTEM})


@dataclass(frozen=True, slots=True)
class Position:
    """One GNSS fix. ``data`` uses the wire position fields (see wire.records):
    lat, lon (deg), alt_m, speed_mps, course_deg, sats, hdop, pdop, mode, quality, valid,
    plus ``flags``: a list of quality-check names that fired (empty = good fix)."""

    time_ms: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Signal:
    """One decoded vehicle value, e.g. ``Signal(t, "engine_speed_rpm", 650.0, "rpm",
    "j1939:sa=0x00")``. ``value`` None means the ECU reported "not available"."""

    time_ms: int
    name: str
    value: Any
    unit: str
    source: str


@dataclass(frozen=True, slots=True)
class Event:
    """Something a detector concluded (trip_start, idle_end, dtc_new, ...)."""

    time_ms: int
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    lane: str = LANE_EVENT


Observation = Position | Signal
