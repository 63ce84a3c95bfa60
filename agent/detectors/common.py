"""What every detector reads (``Reading``) and is tuned by (``DetectorParams``).

A ``Reading`` is the vehicle as known at one observation: the newest engine speed,
vehicle speed, odometer and fuel values, each with the UTC ms time it was measured, so
a detector can tell a fresh value from a stale one without a clock of its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Reading:
    """The vehicle at ``time_ms`` (UTC ms). ``*_ms`` fields: when that value was measured."""

    time_ms: int
    rpm: float | None = None
    rpm_ms: int | None = None
    speed_kmh: float | None = None
    speed_ms: int | None = None
    speed_source: str | None = None
    speed_new: bool = False  # this observation carried a new speed value
    odometer_km: float | None = None
    fuel_used_l: float | None = None  # total fuel used counter
    fuel_rate_lph: float | None = None
    engine_on: bool = False  # from the ignition detector, run first in the chain
    engine_since_ms: int | None = None  # when the engine last went on/off
    # Set only when the observation is a fault list (DM1 or an OBD DTC read):
    faults: tuple[str, str, Any] | None = None  # (signal name, source, value)
    freeze_frame: dict[str, Any] | None = None  # engine values at that moment


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """Thresholds of all detectors. Speeds km/h, accelerations m/s², times s, rpm rpm."""

    ignition_rpm: float = 300.0  # engine counts as running above this
    ignition_on_s: float = 2.0  # rpm must stay above the threshold this long
    ignition_off_s: float = 5.0  # rpm below threshold (or silent) this long -> off
    signal_stale_s: float = 10.0  # a value older than this is unknown
    moving_kmh: float = 3.0  # at or above: moving
    trip_start_s: float = 10.0  # moving this long starts a trip
    trip_end_stop_s: float = 300.0  # stopped this long (engine on) ends a trip
    idle_min_s: float = 300.0  # engine on, not moving this long -> idle_start
    harsh_accel_mps2: float = 3.0
    harsh_brake_mps2: float = 3.5
    harsh_window_s: float = 1.0  # speed difference taken over at least this long
    harsh_max_gap_s: float = 3.0  # larger gaps between speed samples are not differentiated
    overspeed_kmh: float = 90.0
    overspeed_hysteresis_kmh: float = 2.0
    overspeed_min_s: float = 5.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DetectorParams:
        """Build from a config mapping; unknown keys or non-numeric values raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown detector parameter(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"detector parameter {key} must be a number, got {value!r}")
            if value < 0:
                raise ConfigError(f"detector parameter {key} must be >= 0, got {value!r}")
        return cls(**{k: float(v) for k, v in values.items()})


def fresh(value_ms: int | None, now_ms: int, params: DetectorParams) -> bool:
    """True if a value measured at ``value_ms`` is recent enough to act on."""
    return value_ms is not None and now_ms - value_ms <= params.signal_stale_s * 1000


def speed_now(r: Reading, params: DetectorParams) -> float | None:
    """The reading's speed in km/h if fresh, else None."""
    if r.speed_kmh is None or not fresh(r.speed_ms, r.time_ms, params):
        return None
    return r.speed_kmh
