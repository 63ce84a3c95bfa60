"""A route plan: the path, ordered stops with time windows, corridor and thresholds.

``parse_plan`` turns the API's JSON into a ``Plan`` or raises ``PlanError`` with a message
naming the bad field; ``Plan.to_json`` is the normalised form that is stored (times as UTC
ms, path as ``[lat, lon]`` pairs) and parses back to the same plan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloud.adherence.geometry import (
    GeometryError,
    LatLon,
    decode_polyline,
    parse_linestring,
    parse_point,
)

MAX_PATH_POINTS = 20_000
MAX_STOPS = 500


class PlanError(ValueError):
    """The plan cannot be used; the message names the field and what is wrong."""


@dataclass(frozen=True, slots=True)
class Stop:
    """One planned stop. Times are UTC ms; a window is [window_start_ms, window_end_ms]."""

    name: str
    lat: float
    lon: float
    radius_m: float = 50.0
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    appointment_ms: int | None = None
    dwell_s: float = 0.0  # expected time at the stop (for the ETA and planned duration)
    min_dwell_s: float = 60.0  # time inside the radius that makes an arrival


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the adherence engine needs about one route (see docs/routes.md)."""

    path: tuple[LatLon, ...]
    stops: tuple[Stop, ...]
    scheduled_start_ms: int
    end_ms: int  # the route is followed over [scheduled_start_ms, end_ms]
    corridor_m: float = 50.0
    off_route_min_s: float = 30.0  # outside the corridor this long = off route
    back_on_min_s: float = 15.0  # inside (corridor - hysteresis) this long = back on route
    hysteresis_m: float = 10.0
    skip_after_s: float = 1800.0  # a stop not reached this long after its window closes is skipped
    planned_speed_mps: float = 8.0  # for ETA when there is no recent progress (~29 km/h)
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = [list(p) for p in self.path]
        out["stops"] = [asdict(s) for s in self.stops]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """The inverse of ``to_json`` (stored plans were validated when stored)."""
        d = dict(data)
        d["path"] = tuple((float(p[0]), float(p[1])) for p in d["path"])
        d["stops"] = tuple(Stop(**s) for s in d["stops"])
        return cls(**d)

    @property
    def planned_duration_s(self) -> float:
        """Path length at the planned speed plus every stop's expected dwell."""
        from cloud.adherence.geometry import Path

        return Path(self.path).length_m / self.planned_speed_mps + sum(
            s.dwell_s for s in self.stops
        )


def parse_time_ms(value: Any, what: str) -> int:
    """UTC ms from epoch milliseconds or ISO 8601 (no offset = UTC)."""
    if isinstance(value, bool):
        raise PlanError(f"{what}: expected ISO 8601 or epoch milliseconds, got {value!r}")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PlanError(
                f"{what}: expected ISO 8601 (2024-05-01T12:00:00Z) or epoch ms, got {value!r}"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ms = int(dt.timestamp() * 1000)
    else:
        raise PlanError(f"{what}: expected ISO 8601 or epoch milliseconds, got {value!r}")
    if not 0 <= ms < 2**62:
        raise PlanError(f"{what}: {value!r} is out of range")
    return ms


DAY_S = 86_400.0
# Largest accepted value of each numeric setting (m, s or m/s): beyond these a plan is a typo.
MAXIMA = {
    "radius_m": 100_000.0,
    "corridor_m": 100_000.0,
    "hysteresis_m": 100_000.0,
    "dwell_s": 7 * DAY_S,
    "min_dwell_s": DAY_S,
    "off_route_min_s": DAY_S,
    "back_on_min_s": DAY_S,
    "skip_after_s": 7 * DAY_S,
    "appointment_tolerance_s": 7 * DAY_S,
    "planned_speed_mps": 100.0,
}
MINIMA = {"planned_speed_mps": 0.1}


def _number(raw: dict[str, Any], key: str, default: float, what: str, *, positive: bool) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError(f"{what}{key}: must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise PlanError(f"{what}{key}: must be {'> 0' if positive else '>= 0'}, got {value!r}")
    if value > MAXIMA[key] or value < MINIMA.get(key, 0.0):
        raise PlanError(
            f"{what}{key}: must be between {MINIMA.get(key, 0)} and {MAXIMA[key]:g}, got {value!r}"
        )
    return float(value)


def _path(raw: dict[str, Any]) -> tuple[LatLon, ...]:
    has_path, has_poly = raw.get("path") is not None, raw.get("polyline") is not None
    if has_path == has_poly:
        raise PlanError(
            "give exactly one of 'path' (GeoJSON LineString) or 'polyline' (encoded polyline)"
        )
    try:
        if has_path:
            points = parse_linestring(raw["path"])
        else:
            precision = raw.get("polyline_precision", 5)
            points = decode_polyline(raw["polyline"], precision)
    except GeometryError as exc:
        raise PlanError(f"{'path' if has_path else 'polyline'}: {exc}") from None
    if len(points) < 2:
        raise PlanError(f"path needs at least 2 points, got {len(points)}")
    if len(points) > MAX_PATH_POINTS:
        raise PlanError(f"path has {len(points)} points; at most {MAX_PATH_POINTS} are allowed")
    if len(set(points)) < 2:
        raise PlanError("path has zero length (all points are the same)")
    return tuple(points)


def _stop(i: int, raw: Any, defaults: dict[str, float]) -> Stop:
    what = f"stops[{i}]."
    if not isinstance(raw, dict):
        raise PlanError(f"stops[{i}]: must be an object, got {raw!r}")
    if raw.get("location") is None:
        raise PlanError(
            f"stops[{i}].location: required ({{'lat': .., 'lon': ..}} or GeoJSON Point)"
        )
    try:
        lat, lon = parse_point(raw["location"], f"stops[{i}].location")
    except GeometryError as exc:
        raise PlanError(str(exc)) from None
    name = raw.get("name", f"stop {i + 1}")
    if not isinstance(name, str) or len(name) > 200:
        raise PlanError(f"{what}name: must be a string of at most 200 characters")
    radius = _number(raw, "radius_m", 50.0, what, positive=True)
    dwell = _number(raw, "dwell_s", 0.0, what, positive=False)
    min_dwell = _number(raw, "min_dwell_s", defaults["min_dwell_s"], what, positive=False)
    ws = we = appt = None
    window = raw.get("window")
    if window is not None:
        if not isinstance(window, dict) or ("start" not in window and "end" not in window):
            raise PlanError(f"{what}window: must be {{'start': time, 'end': time}}")
        if window.get("start") is not None:
            ws = parse_time_ms(window["start"], f"{what}window.start")
        if window.get("end") is not None:
            we = parse_time_ms(window["end"], f"{what}window.end")
        if ws is not None and we is not None and we < ws:
            raise PlanError(f"{what}window: end is before start")
    if raw.get("appointment") is not None:
        if window is not None:
            raise PlanError(f"{what}: give either 'window' or 'appointment', not both")
        appt = parse_time_ms(raw["appointment"], f"{what}appointment")
        tol = _number(raw, "appointment_tolerance_s", 900.0, what, positive=False)
        ws, we = appt - int(tol * 1000), appt + int(tol * 1000)
    return Stop(name, lat, lon, radius, ws, we, appt, dwell, min_dwell)


def parse_plan(raw: Any) -> Plan:
    """Validate the API's route JSON (see docs/routes.md) into a ``Plan``; PlanError if bad."""
    if not isinstance(raw, dict):
        raise PlanError(f"the route must be a JSON object, got {type(raw).__name__}")
    path = _path(raw)
    if raw.get("scheduled_start") is None:
        raise PlanError("scheduled_start: required (ISO 8601 or epoch ms)")
    start = parse_time_ms(raw["scheduled_start"], "scheduled_start")
    corridor = _number(raw, "corridor_m", 50.0, "", positive=True)
    hysteresis = _number(raw, "hysteresis_m", min(10.0, corridor / 5), "", positive=False)
    if hysteresis >= corridor:
        raise PlanError(f"hysteresis_m ({hysteresis}) must be smaller than corridor_m ({corridor})")
    defaults = {"min_dwell_s": _number(raw, "min_dwell_s", 60.0, "", positive=False)}
    stops_raw = raw.get("stops", [])
    if not isinstance(stops_raw, list):
        raise PlanError("stops: must be a list")
    if len(stops_raw) > MAX_STOPS:
        raise PlanError(f"stops: {len(stops_raw)} given; at most {MAX_STOPS} are allowed")
    stops = tuple(_stop(i, s, defaults) for i, s in enumerate(stops_raw))
    for i, s in enumerate(stops):
        if s.window_end_ms is not None and s.window_end_ms < start:
            raise PlanError(f"stops[{i}].window: ends before the scheduled start")
    plan_kw = {
        "off_route_min_s": _number(raw, "off_route_min_s", 30.0, "", positive=False),
        "back_on_min_s": _number(raw, "back_on_min_s", 15.0, "", positive=False),
        "skip_after_s": _number(raw, "skip_after_s", 1800.0, "", positive=False),
        "planned_speed_mps": _number(raw, "planned_speed_mps", 8.0, "", positive=True),
    }
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise PlanError("name: must be a string of at most 200 characters")
    plan = Plan(
        path=path,
        stops=stops,
        scheduled_start_ms=start,
        end_ms=start,
        corridor_m=corridor,
        hysteresis_m=hysteresis,
        name=name,
        **plan_kw,  # type: ignore[arg-type]
    )
    if raw.get("end") is not None:
        end = parse_time_ms(raw["end"], "end")
        if end <= start:
            raise PlanError("end: must be after scheduled_start")
    else:
        end = default_end_ms(plan)
    return Plan(**{**plan.to_json(), "path": path, "stops": stops, "end_ms": end})


def default_end_ms(plan: Plan) -> int:
    """When following stops without an explicit ``end``: twice the planned duration after the
    start, or the last window's close plus ``skip_after_s``, whichever is later."""
    end = plan.scheduled_start_ms + int(2 * plan.planned_duration_s * 1000)
    for s in plan.stops:
        if s.window_end_ms is not None:
            end = max(end, s.window_end_ms + int(plan.skip_after_s * 1000))
    return min(max(end, plan.scheduled_start_ms + 60_000), 2**62 - 1)
