"""Which GNSS fixes become position records (Teltonika-style sampling).

A receiver gives a fix every second; a fleet needs far fewer, but at the right
moments: in curves, when speed changes, when the vehicle has moved some distance,
and a heartbeat while parked. Rules are set separately for moving and stopped; a
fix is recorded when any enabled trigger fires (0 disables a trigger):

* ``max_period_s``: time since the last record reached this (while stopped: the
  stationary heartbeat);
* ``min_distance_m``: distance from the last recorded good fix;
* ``min_heading_deg``: course change since the last record (359 -> 1 deg is 2 deg);
* ``min_speed_change_mps``: speed change since the last record;
* a change between moving and stopped (with hysteresis between ``stop_speed_mps``
  and ``moving_speed_mps``).

``min_period_s`` limits the rate: no record sooner than that after the previous one
(state changes excepted). Fixes flagged ``no_fix``, ``zero_position`` or ``jump`` by
the quality stage only count for the period/heartbeat trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from agent.errors import ConfigError
from agent.model import Position
from agent.stages.quality import UNTRUSTED_FLAGS as _UNTRUSTED
from agent.stages.quality import distance_m


@dataclass(frozen=True, slots=True)
class MotionRules:
    """Triggers for one motion state (seconds, metres, degrees, m/s; 0 = off)."""

    min_period_s: float = 1.0
    max_period_s: float = 30.0
    min_distance_m: float = 0.0
    min_heading_deg: float = 0.0
    min_speed_change_mps: float = 0.0


# A truck at 1 Hz: a point every 200 m or 30 s on the road, every 10 deg of turn,
# every 10 km/h of speed change; parked, a heartbeat every 5 minutes.
DEFAULT_MOVING = MotionRules(
    min_period_s=1.0,
    max_period_s=30.0,
    min_distance_m=200.0,
    min_heading_deg=10.0,
    min_speed_change_mps=2.8,
)
DEFAULT_STOPPED = MotionRules(min_period_s=10.0, max_period_s=300.0)


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """Sampling rules; ``from_dict`` reads the ``[sampling]`` config section."""

    moving_speed_mps: float = 2.0  # speed at or above which a stopped vehicle is moving
    stop_speed_mps: float = 1.0  # speed below which a moving vehicle is stopped
    moving: MotionRules = field(default=DEFAULT_MOVING)
    stopped: MotionRules = field(default=DEFAULT_STOPPED)

    def __post_init__(self) -> None:
        if self.stop_speed_mps > self.moving_speed_mps:
            raise ConfigError(
                f"sampling: stop_speed_mps ({self.stop_speed_mps}) must not exceed "
                f"moving_speed_mps ({self.moving_speed_mps})"
            )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SamplingConfig:
        """Build from plain config values; unknown keys and bad values raise ConfigError.

        Example: ``{"moving": {"min_distance_m": 100}, "stopped": {"max_period_s": 600}}``
        (missing keys keep their defaults).
        """
        if not isinstance(raw, dict):
            raise ConfigError(f"sampling: expected a table of settings, got {raw!r}")
        top: dict[str, Any] = {}
        for key, value in raw.items():
            if key in ("moving", "stopped"):
                base = DEFAULT_MOVING if key == "moving" else DEFAULT_STOPPED
                top[key] = _rules(f"sampling.{key}", value, base)
            elif key in ("moving_speed_mps", "stop_speed_mps"):
                top[key] = _number(f"sampling.{key}", value)
            else:
                known = ", ".join(f.name for f in fields(cls))
                raise ConfigError(f"unknown sampling setting {key!r} (known: {known})")
        return cls(**top)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _rules(prefix: str, raw: Any, base: MotionRules) -> MotionRules:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix}: expected a table of settings, got {raw!r}")
    known = {f.name for f in fields(MotionRules)}
    values = {f.name: getattr(base, f.name) for f in fields(MotionRules)}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"unknown sampling setting {prefix}.{key} (known: {', '.join(sorted(known))})"
            )
        values[key] = _number(f"{prefix}.{key}", value)
    return MotionRules(**values)


def heading_change_deg(a: float, b: float) -> float:
    """Smallest angle between two courses in degrees (0..180), across 0/360."""
    return abs((b - a + 180.0) % 360.0 - 180.0)


class Sampler:
    """Stateful filter: ``accept(position)`` says whether to record this fix."""

    def __init__(self, config: SamplingConfig | None = None) -> None:
        self.config = config or SamplingConfig()
        self.moving = False
        self._last_ms: int | None = None  # time of the last record
        self._good: Position | None = None  # last recorded trusted fix
        self.reasons: dict[str, int] = {}  # records by trigger, for health data

    def accept(self, position: Position) -> bool:
        reason = self._reason(position)
        if reason is None:
            return False
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self._last_ms = position.time_ms
        if _trusted(position):
            self._good = position
        return True

    def _reason(self, p: Position) -> str | None:
        cfg = self.config
        trusted = _trusted(p)
        speed = p.data.get("speed_mps")
        changed = False
        if trusted and speed is not None:
            if self.moving and speed < cfg.stop_speed_mps:
                self.moving, changed = False, True
            elif not self.moving and speed >= cfg.moving_speed_mps:
                self.moving, changed = True, True
        if self._last_ms is None:
            return "first"
        elapsed_s = (p.time_ms - self._last_ms) / 1000.0
        if elapsed_s < -1.0:
            return "time_reset"  # the clock went back: start over from here
        if changed:
            return "moving" if self.moving else "stopped"
        rules = cfg.moving if self.moving else cfg.stopped
        if elapsed_s < rules.min_period_s:
            return None
        if rules.max_period_s and elapsed_s >= rules.max_period_s:
            return "period"
        good = self._good
        if not trusted or good is None:
            return None
        d, g = p.data, good.data
        if (
            rules.min_distance_m
            and d.get("lat") is not None
            and g.get("lat") is not None
            and distance_m(g["lat"], g["lon"], d["lat"], d["lon"]) >= rules.min_distance_m
        ):
            return "distance"
        course, last_course = d.get("course_deg"), g.get("course_deg")
        if (
            rules.min_heading_deg
            and course is not None
            and last_course is not None
            and speed is not None
            and speed >= cfg.stop_speed_mps
            and heading_change_deg(last_course, course) >= rules.min_heading_deg
        ):
            return "heading"
        last_speed = g.get("speed_mps")
        if (
            rules.min_speed_change_mps
            and speed is not None
            and last_speed is not None
            and abs(speed - last_speed) >= rules.min_speed_change_mps
        ):
            return "speed"
        return None


def _trusted(p: Position) -> bool:
    return not _UNTRUSTED.intersection(p.data.get("flags") or ())
