"""Routes the simulated vehicle drives: loading and validating the JSON route files,
along-track geometry (position and heading at a distance in metres) and the speed
constraints a driver would respect (per-segment limits, slow corners, stops).

Route JSON::

    {"name": "...", "source": "hand-made ...", "speed_limit_kmh": 48,
     "speed_limits_kmh": [[point_index, kmh], ...],   # optional, from that point on
     "altitude_m": 180, "geoid_sep_m": -34,            # optional, metres
     "points": [[lat, lon], ...],
     "stops": [{"at": [lat, lon] | "point": index, "dwell_s": 60, "name": "..."}]}
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import geo

ROUTES_DIR = Path(__file__).resolve().parent / "routes"
DEFAULT_SPEED_LIMIT_KMH = 50.0
MAX_STOP_OFFSET_M = 30.0  # a stop further than this from the route is a mistake in the file
LATERAL_ACCEL_MPS2 = 2.0  # comfortable cornering for a loaded delivery truck
INTERSECTION_RADIUS_M = 12.0  # typical kerb-to-kerb turning radius at a city corner


class RouteError(ValueError):
    """A route file that cannot be used, with the reason."""


@dataclass(frozen=True)
class Stop:
    """A planned halt: the vehicle stops at ``dist_m`` along the route for ``dwell_s``."""

    dist_m: float
    dwell_s: float
    name: str = ""


@dataclass
class Route:
    """A polyline with cumulative distances and the driver's speed constraints."""

    name: str
    points: list[tuple[float, float]]
    stops: list[Stop] = field(default_factory=list)
    limits_kmh: list[float] = field(default_factory=list)  # one per segment
    altitude_m: float = 50.0
    geoid_sep_m: float = 0.0  # geoid height above the WGS84 ellipsoid, for GGA
    source: str = ""
    cum_m: list[float] = field(default_factory=list, init=False)
    bearings: list[float] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise RouteError(f"route {self.name!r} needs at least two distinct points")
        if not self.limits_kmh:
            self.limits_kmh = [DEFAULT_SPEED_LIMIT_KMH] * (len(self.points) - 1)
        if len(self.limits_kmh) != len(self.points) - 1:
            raise RouteError("one speed limit per segment is required")
        self.cum_m = [0.0]
        self.bearings = []
        for (la1, lo1), (la2, lo2) in zip(self.points, self.points[1:], strict=False):
            self.cum_m.append(self.cum_m[-1] + geo.haversine_m(la1, lo1, la2, lo2))
            self.bearings.append(geo.bearing_deg(la1, lo1, la2, lo2))
        self.stops.sort(key=lambda s: s.dist_m)

    @property
    def length_m(self) -> float:
        return self.cum_m[-1]

    def segment_at(self, dist_m: float) -> int:
        """Index of the segment that contains ``dist_m`` (clamped to the route)."""
        i = bisect.bisect_right(self.cum_m, dist_m) - 1
        return max(0, min(i, len(self.points) - 2))

    def position_at(self, dist_m: float) -> tuple[float, float, float]:
        """(lat, lon, bearing in degrees) at ``dist_m`` metres along the route."""
        dist_m = max(0.0, min(dist_m, self.length_m))
        i = self.segment_at(dist_m)
        seg = self.cum_m[i + 1] - self.cum_m[i]
        frac = 0.0 if seg <= 0 else (dist_m - self.cum_m[i]) / seg
        lat, lon = geo.interpolate(*self.points[i], *self.points[i + 1], frac)
        return lat, lon, self.bearings[i]

    def limit_mps(self, dist_m: float) -> float:
        return self.limits_kmh[self.segment_at(dist_m)] / 3.6

    def corner_constraints(self) -> list[tuple[float, float]]:
        """(distance in m, max speed in m/s) at each vertex where the road turns or the
        speed limit drops, so the driver brakes before it rather than in it."""
        out: list[tuple[float, float]] = []
        for i in range(1, len(self.points) - 1):
            limit = self.limits_kmh[i] / 3.6
            if limit < self.limits_kmh[i - 1] / 3.6:
                out.append((self.cum_m[i], limit))
            angle = geo.turn_angle_deg(self.bearings[i - 1], self.bearings[i])
            if angle < 5.0:
                continue
            shorter = min(self.cum_m[i] - self.cum_m[i - 1], self.cum_m[i + 1] - self.cum_m[i])
            # Largest arc that fits between the neighbouring vertices; at real junctions
            # (sharp turns) the kerb radius is the tighter bound.
            radius = (shorter / 2) / math.tan(math.radians(angle) / 2)
            if angle >= 60.0:
                radius = min(radius, INTERSECTION_RADIUS_M)
            radius = max(radius, 4.0)
            out.append((self.cum_m[i], min(limit, math.sqrt(LATERAL_ACCEL_MPS2 * radius))))
        return out

    def distance_to(self, lat: float, lon: float) -> float:
        """Shortest distance in metres from a point to the route polyline."""
        return min(
            geo.project_on_segment(lat, lon, a, b)[0]
            for a, b in zip(self.points, self.points[1:], strict=False)
        )

    def is_closed(self, tolerance_m: float = 50.0) -> bool:
        (la1, lo1), (la2, lo2) = self.points[0], self.points[-1]
        return geo.haversine_m(la1, lo1, la2, lo2) <= tolerance_m

    def closed(self) -> Route:
        """This route with a final segment back to the start (for ``--loop``)."""
        (la1, lo1), (la2, lo2) = self.points[0], self.points[-1]
        if geo.haversine_m(la1, lo1, la2, lo2) < 0.5:
            return self
        return Route(
            name=self.name,
            points=[*self.points, self.points[0]],
            stops=list(self.stops),
            limits_kmh=[*self.limits_kmh, self.limits_kmh[-1]],
            altitude_m=self.altitude_m,
            geoid_sep_m=self.geoid_sep_m,
            source=self.source,
        )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RouteError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _parse_points(raw: Any) -> list[tuple[float, float]]:
    if not isinstance(raw, list):
        raise RouteError("'points' must be a list of [lat, lon] pairs")
    points: list[tuple[float, float]] = []
    for n, item in enumerate(raw):
        if not isinstance(item, list | tuple) or len(item) < 2:
            raise RouteError(f"points[{n}] must be [lat, lon], got {item!r}")
        lat, lon = _number(item[0], f"points[{n}] lat"), _number(item[1], f"points[{n}] lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RouteError(f"points[{n}] = {lat}, {lon} is not a valid WGS84 coordinate")
        # A repeated point would make a zero-length segment with no heading; drop it.
        if points and geo.haversine_m(*points[-1], lat, lon) < 0.1:
            continue
        points.append((lat, lon))
    if len(points) < 2:
        raise RouteError("a route needs at least two distinct points")
    return points


def route_from_dict(data: Any, default_name: str = "route") -> Route:
    """Build a validated Route from parsed JSON; raises RouteError with the reason."""
    if not isinstance(data, dict):
        raise RouteError("a route file must hold a JSON object")
    name = str(data.get("name") or default_name)
    raw_points = data.get("points")
    points = _parse_points(raw_points)
    base = _number(data.get("speed_limit_kmh", DEFAULT_SPEED_LIMIT_KMH), "speed_limit_kmh")
    if not 5 <= base <= 200:
        raise RouteError(f"speed_limit_kmh {base} is outside 5..200")
    limits = [base] * (len(points) - 1)
    for n, item in enumerate(data.get("speed_limits_kmh") or []):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise RouteError(f"speed_limits_kmh[{n}] must be [point_index, kmh]")
        idx, kmh = int(_number(item[0], "point index")), _number(item[1], "kmh")
        if not 0 <= idx < len(limits) or not 5 <= kmh <= 200:
            raise RouteError(f"speed_limits_kmh[{n}] = {item!r} is out of range")
        for j in range(idx, len(limits)):
            limits[j] = kmh
    route = Route(
        name=name,
        points=points,
        limits_kmh=limits,
        altitude_m=_number(data.get("altitude_m", 50.0), "altitude_m"),
        geoid_sep_m=_number(data.get("geoid_sep_m", 0.0), "geoid_sep_m"),
        source=str(data.get("source", "")),
    )
    stops: list[Stop] = []
    for n, raw in enumerate(data.get("stops") or []):
        if not isinstance(raw, dict):
            raise RouteError(f"stops[{n}] must be an object")
        dwell = _number(raw.get("dwell_s", 30.0), f"stops[{n}].dwell_s")
        if dwell < 0:
            raise RouteError(f"stops[{n}].dwell_s must not be negative")
        if "point" in raw:
            idx = int(_number(raw["point"], f"stops[{n}].point"))
            if not 0 <= idx < len(raw_points):
                raise RouteError(f"stops[{n}].point {idx} is not a point index")
            lat, lon = _number(raw_points[idx][0], "lat"), _number(raw_points[idx][1], "lon")
        elif "at" in raw and isinstance(raw["at"], list | tuple) and len(raw["at"]) == 2:
            lat, lon = _number(raw["at"][0], "lat"), _number(raw["at"][1], "lon")
        else:
            raise RouteError(f"stops[{n}] needs 'point' (index) or 'at' ([lat, lon])")
        stops.append(Stop(along_distance(route, lat, lon), dwell, str(raw.get("name", ""))))
    route.stops = sorted(stops, key=lambda s: s.dist_m)
    return route


def along_distance(route: Route, lat: float, lon: float) -> float:
    """Distance in metres along the route of the point's foot on it (first close match)."""
    best: tuple[float, float] | None = None
    for i, (a, b) in enumerate(zip(route.points, route.points[1:], strict=False)):
        off, frac = geo.project_on_segment(lat, lon, a, b)
        along = route.cum_m[i] + frac * (route.cum_m[i + 1] - route.cum_m[i])
        if best is None or off < best[0] - 0.01:
            best = (off, along)
    assert best is not None
    if best[0] > MAX_STOP_OFFSET_M:
        raise RouteError(f"stop at {lat}, {lon} is {best[0]:.0f} m from the route")
    return best[1]


def list_routes() -> list[Path]:
    """The route files shipped in ``sim/routes``."""
    return sorted(ROUTES_DIR.glob("*.json"))


def load_route(name_or_path: str | Path) -> Route:
    """Load a shipped route by name (file stem) or any route JSON by path."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = ROUTES_DIR / f"{name_or_path}.json"
        if not shipped.is_file():
            names = ", ".join(p.stem for p in list_routes()) or "none"
            raise RouteError(f"no route file {name_or_path!r} (shipped routes: {names})")
        path = shipped
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RouteError(f"cannot read route {path}: {exc}") from exc
    return route_from_dict(data, default_name=path.stem)
