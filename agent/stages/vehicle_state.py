"""The latest known value of every vehicle signal, CAN and GNSS merged, with provenance.

Each value is kept as ``(value, source, time_ms)``. GNSS fixes are stored under
``Vehicle.CurrentLocation.*`` with source ``gnss``. ``Vehicle.Speed`` (km/h) resolves to the
engine network's speed while it is fresh and to the GNSS speed (``speed_mps`` x 3.6)
otherwise, so detectors keep working on vehicles whose CAN bus gives no speed.

When two senders report the same numeric value (say wheel speed from the engine, SA 0x00,
and from a tachograph, SA 0xEE), the first one keeps it while it stays fresh, so the value
does not flip between two slightly different sensors (which would look like harsh
braking). Non-numeric values (fault lists, VIN) always take the latest.
"""

from __future__ import annotations

from typing import Any

from agent.model import Observation, Position, Signal
from agent.stages.quality import is_trusted

SPEED = "Vehicle.Speed"
GNSS_SPEED = "Vehicle.CurrentLocation.GNSSSpeed"
GNSS_FIELDS = {
    "lat": ("Vehicle.CurrentLocation.Latitude", 1.0),
    "lon": ("Vehicle.CurrentLocation.Longitude", 1.0),
    "alt_m": ("Vehicle.CurrentLocation.Altitude", 1.0),
    "course_deg": ("Vehicle.CurrentLocation.Heading", 1.0),
    "hdop": ("Vehicle.CurrentLocation.HorizontalAccuracy", 1.0),
    "speed_mps": (GNSS_SPEED, 3.6),  # stored in km/h like Vehicle.Speed
}

Entry = tuple[Any, str, int]
_NUMERIC = (int, float)  # exact types: a bool is a state, not a measurement


class VehicleState:
    """Mutable latest-value table; one per vehicle, fed in event-time order.

    ``can_speed_stale_ms``: a CAN speed older than this (relative to the newest GNSS
    speed) gives way to the GNSS speed. ``source_hold_ms``: how long a sender keeps a
    numeric value against a second sender. ``held_back`` counts values not taken."""

    def __init__(self, can_speed_stale_ms: int = 5000, source_hold_ms: int = 5000) -> None:
        self._values: dict[str, Entry] = {}
        self.can_speed_stale_ms = can_speed_stale_ms
        self.source_hold_ms = source_hold_ms
        self.held_back = 0

    def update(self, obs: Observation) -> None:
        if isinstance(obs, Signal):
            cur = self._values.get(obs.name)
            if (
                cur is not None
                and cur[1] != obs.source
                and obs.time_ms - cur[2] < self.source_hold_ms
                and type(cur[0]) in _NUMERIC
                and type(obs.value) in _NUMERIC
            ):
                self.held_back += 1
                return
            self._values[obs.name] = (obs.value, obs.source, obs.time_ms)
            return
        if isinstance(obs, Position):
            data = obs.data
            # An invalid fix, or one whose position failed a quality check, is not used
            # (few satellites or a high HDOP make it less exact, not wrong).
            if not is_trusted(data):
                return
            for key, (name, factor) in GNSS_FIELDS.items():
                value = data.get(key)
                if value is not None:
                    self._values[name] = (value * factor, "gnss", obs.time_ms)
            return
        raise TypeError(f"VehicleState.update takes a Position or Signal, not {type(obs)!r}")

    def get(self, name: str) -> Entry | None:
        """(value, source, time_ms) of ``name``, or None if never seen."""
        if name == SPEED:
            return self.speed()
        return self._values.get(name)

    def speed(self) -> Entry | None:
        """Vehicle speed in km/h: CAN preferred, GNSS as fallback when CAN is absent/stale."""
        can = self._values.get(SPEED)
        gnss = self._values.get(GNSS_SPEED)
        if (
            can is not None
            and can[0] is not None
            and (gnss is None or can[2] >= gnss[2] - self.can_speed_stale_ms)
        ):
            return can
        return gnss if gnss is not None else can

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every known value as ``{name: {"value", "source", "time_ms"}}`` (speed resolved)."""
        out = {
            name: {"value": v, "source": s, "time_ms": t}
            for name, (v, s, t) in self._values.items()
        }
        speed = self.speed()
        if speed is not None:
            out[SPEED] = {"value": speed[0], "source": speed[1], "time_ms": speed[2]}
        return out
