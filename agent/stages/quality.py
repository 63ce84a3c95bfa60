"""Quality marking of GNSS fixes: flag doubtful fixes, never drop them.

Each check that fires adds its name to ``data["flags"]`` (flags already set upstream,
e.g. ``bad_time`` from the NMEA decoder, are kept). Downstream stages decide what a flag
means for them (the sampler only lets unflagged fixes trigger distance records,
trip detection ignores ``jump`` fixes, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from agent.errors import ConfigError
from agent.model import Position
from wire.records import UNTRUSTED_FLAGS, position_is_trusted

FLAG_NO_FIX = "no_fix"  # receiver says invalid / no fix, or no coordinates
FLAG_FEW_SATS = "few_sats"  # fewer satellites used than min_sats
FLAG_HIGH_HDOP = "high_hdop"  # horizontal dilution of precision above max_hdop
FLAG_ZERO_POSITION = "zero_position"  # 0,0: a receiver default, not a place
FLAG_JUMP = "jump"  # distance from the last good fix implies an impossible speed
# Which flags make a position unusable is part of the wire contract (the cloud reads it).
is_trusted = position_is_trusted
assert {FLAG_NO_FIX, FLAG_ZERO_POSITION, FLAG_JUMP} == UNTRUSTED_FLAGS


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS84 points (deg)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat = p2 - p1
    dlon = math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class QualityParams:
    """Thresholds of the checks (defaults suit a road vehicle).

    ``max_speed_mps``: implied speed between fixes above which a fix is a jump
    (70 m/s = 252 km/h). ``jump_slack_m``: distance always allowed on top of that
    (position noise). ``reanchor_after``: consecutive mutually consistent jump fixes
    after which they become the new reference (the old reference was the outlier).
    """

    min_sats: int = 4
    max_hdop: float = 5.0
    max_speed_mps: float = 70.0
    jump_slack_m: float = 30.0
    reanchor_after: int = 3

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QualityParams:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(
                    f"unknown quality setting {key!r} (known: {', '.join(sorted(known))})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"quality setting {key!r} must be a number >= 0, got {value!r}")
            values[key] = int(value) if known[key].type == "int" else float(value)
        return cls(**values)


class QualityChecker:
    """Stateful: the jump check compares each fix with the last good one."""

    def __init__(self, params: QualityParams | None = None) -> None:
        self.params = params or QualityParams()
        self._ref: Position | None = None  # last fix usable as a jump reference
        self._outliers: list[Position] = []  # consecutive jump fixes, oldest first
        self.counts: dict[str, int] = {}

    def mark(self, position: Position) -> Position:
        """A copy of ``position`` whose ``data["flags"]`` lists the checks that fired."""
        p = self.params
        d = position.data
        flags = list(d.get("flags") or [])
        lat, lon = d.get("lat"), d.get("lon")
        has_position = lat is not None and lon is not None
        fired: list[str] = []
        if not d.get("valid") or not has_position or d.get("mode") == 0:
            fired.append(FLAG_NO_FIX)
        sats = d.get("sats")
        if sats is not None and sats < p.min_sats:
            fired.append(FLAG_FEW_SATS)
        hdop = d.get("hdop")
        if hdop is not None and hdop > p.max_hdop:
            fired.append(FLAG_HIGH_HDOP)
        if has_position and abs(lat) < 1e-7 and abs(lon) < 1e-7:
            fired.append(FLAG_ZERO_POSITION)
        usable = FLAG_NO_FIX not in fired and FLAG_ZERO_POSITION not in fired
        if usable and self._is_jump(position):
            fired.append(FLAG_JUMP)
        for name in fired:
            self.counts[name] = self.counts.get(name, 0) + 1
            if name not in flags:
                flags.append(name)
        return Position(position.time_ms, {**d, "flags": flags})

    def _consistent(self, a: Position, b: Position) -> bool:
        dt_s = abs(b.time_ms - a.time_ms) / 1000.0
        dist = distance_m(a.data["lat"], a.data["lon"], b.data["lat"], b.data["lon"])
        return dist <= self.params.max_speed_mps * dt_s + self.params.jump_slack_m

    def _is_jump(self, position: Position) -> bool:
        """Jump check for a fix with a usable position; updates the reference."""
        if self._ref is None or self._consistent(self._ref, position):
            self._ref = position
            self._outliers.clear()
            return False
        if self._outliers and not self._consistent(self._outliers[-1], position):
            self._outliers.clear()
        self._outliers.append(position)
        if len(self._outliers) >= self.params.reanchor_after:
            # The jumps agree with each other: the reference was the outlier.
            self._ref = position
            self._outliers.clear()
            return False
        return True
