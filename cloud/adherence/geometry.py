"""Geometry of a planned path: distances in metres on a local flat (equirectangular) frame.

A point's distance to the path is its distance to the nearest *segment* (the line, not
its vertices): each segment is projected on an east/north frame centred on its first
vertex, exact to well under a metre for segments of a few kilometres. Also decodes
encoded polylines and GeoJSON LineStrings into ``(lat, lon)`` degree lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

LatLon = tuple[float, float]


class GeometryError(ValueError):
    """A path or point that cannot be used (the message says why)."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def check_point(lat: object, lon: object, what: str) -> LatLon:
    """``(lat, lon)`` as floats, or GeometryError naming ``what`` when not a WGS84 point."""
    for name, value in (("lat", lat), ("lon", lon)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GeometryError(f"{what}: {name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise GeometryError(f"{what}: {name} must be finite, got {value!r}")
    if not -90.0 <= float(lat) <= 90.0:  # type: ignore[arg-type]
        raise GeometryError(f"{what}: lat {lat!r} outside [-90, 90]")
    if not -180.0 <= float(lon) <= 180.0:  # type: ignore[arg-type]
        raise GeometryError(f"{what}: lon {lon!r} outside [-180, 180]")
    return float(lat), float(lon)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Projection:
    """Where a point falls on a path: distance to the line and position along it (m)."""

    distance_m: float
    chainage_m: float  # distance along the path from its start to the foot point
    segment: int


class Path:
    """A polyline of ``(lat, lon)`` degrees with cumulative lengths (chainage) in metres."""

    def __init__(self, points: Sequence[LatLon], cell_m: float = 250.0) -> None:
        if len(points) < 2:
            raise GeometryError(f"a path needs at least 2 points, got {len(points)}")
        self.points: list[LatLon] = [
            check_point(p[0], p[1], f"path point {i}") for i, p in enumerate(points)
        ]
        self.chainage: list[float] = [0.0]
        for a, b in zip(self.points, self.points[1:], strict=False):
            self.chainage.append(self.chainage[-1] + haversine_m(a[0], a[1], b[0], b[1]))
        if self.chainage[-1] <= 0.0:
            raise GeometryError("the path has zero length (all points are the same)")
        # Per-segment frame: east scale at the first vertex, vector A->B in metres.
        self._segs: list[tuple[float, float, float, float, float, float]] = []
        for a, b in zip(self.points, self.points[1:], strict=False):
            kx = _M_PER_DEG * math.cos(math.radians(a[0]))
            bx, by = (b[1] - a[1]) * kx, (b[0] - a[0]) * _M_PER_DEG
            self._segs.append((a[0], a[1], kx, bx, by, bx * bx + by * by))
        self._build_grid(max(50.0, cell_m))

    def _build_grid(self, cell_m: float) -> None:
        # A uniform grid of segment indices on one flat frame for the whole path, so a
        # lookup near the path reads a 3x3 block of cells instead of every segment.
        self._cell = cell_m
        lat0 = sum(p[0] for p in self.points) / len(self.points)
        self._gkx = _M_PER_DEG * math.cos(math.radians(lat0)) / cell_m
        self._gky = _M_PER_DEG / cell_m
        grid: dict[tuple[int, int], list[int]] = {}
        for i, (a, b) in enumerate(zip(self.points, self.points[1:], strict=False)):
            x0, y0 = a[1] * self._gkx, a[0] * self._gky
            x1, y1 = b[1] * self._gkx, b[0] * self._gky
            # Sample every quarter cell: the sample nearest to any point of the segment is
            # within 1/8 cell of it, so a segment passing within half a cell of a fix has a
            # sample in the 3x3 block around the fix's cell.
            n = max(1, math.ceil(4 * math.hypot(x1 - x0, y1 - y0)))
            cells = {
                (math.floor(x0 + (x1 - x0) * k / n), math.floor(y0 + (y1 - y0) * k / n))
                for k in range(n + 1)
            }
            for c in cells:
                grid.setdefault(c, []).append(i)
        self._grid = grid

    def _candidates(self, lat: float, lon: float) -> list[int]:
        cx, cy = math.floor(lon * self._gkx), math.floor(lat * self._gky)
        found: set[int] = set()
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                found.update(self._grid.get((cx + dx, cy + dy), ()))
        return sorted(found)

    @property
    def length_m(self) -> float:
        return self.chainage[-1]

    def segment_projection(self, i: int, lat: float, lon: float) -> tuple[float, float]:
        """(distance m, chainage m) of the point's foot on segment ``i``."""
        alat, alon, kx, bx, by, seg2 = self._segs[i]
        px, py = (lon - alon) * kx, (lat - alat) * _M_PER_DEG
        t = 0.0 if seg2 == 0.0 else max(0.0, min(1.0, (px * bx + py * by) / seg2))
        dist = math.hypot(px - t * bx, py - t * by)
        return dist, self.chainage[i] + t * (self.chainage[i + 1] - self.chainage[i])

    def nearest(self, lat: float, lon: float) -> Projection:
        """The nearest point of the whole line (the earlier segment wins a tie within 1 mm)."""
        best = self._nearest_of(self._candidates(lat, lon), lat, lon)
        # Every segment within half a cell is in the 3x3 block (the margin absorbs the
        # grid frame's scale error); farther away, look at all of them.
        if best.distance_m <= self._cell / 2:
            return best
        return self._nearest_of(range(len(self._segs)), lat, lon)

    def _nearest_of(self, indices: Iterable[int], lat: float, lon: float) -> Projection:
        best = Projection(math.inf, 0.0, 0)
        for i in indices:
            d, ch = self.segment_projection(i, lat, lon)
            if d < best.distance_m - 0.001:
                best = Projection(d, ch, i)
        return best

    def nearest_forward(
        self, lat: float, lon: float, min_chainage_m: float, max_distance_m: float
    ) -> Projection | None:
        """The foot with the smallest chainage >= ``min_chainage_m`` within ``max_distance_m``.

        On a path that passes a place twice (out and back on the same street) this picks the
        pass the vehicle is on by its progress so far, not simply the nearer one.
        """
        indices: Iterable[int] = (
            self._candidates(lat, lon)
            if max_distance_m <= self._cell / 2
            else range(len(self._segs))
        )
        for i in indices:
            if self.chainage[i + 1] < min_chainage_m:
                continue
            d, ch = self.segment_projection(i, lat, lon)
            if d <= max_distance_m and ch >= min_chainage_m:
                return Projection(d, ch, i)
        return None


def decode_polyline(text: str, precision: int = 5) -> list[LatLon]:
    """Decode an encoded polyline (the Google format: zig-zag varints, lat then lon deltas).

    ``precision`` is the number of decimals (5 usual, 6 for OSRM/Valhalla "polyline6").
    """
    if not isinstance(text, str) or not text:
        raise GeometryError("polyline must be a non-empty string")
    if not isinstance(precision, int) or isinstance(precision, bool) or not 1 <= precision <= 8:
        raise GeometryError(f"polyline precision must be an integer 1..8, got {precision!r}")
    factor = 10.0**precision
    values: list[int] = []
    shift = result = 0
    for pos, ch in enumerate(text):
        b = ord(ch) - 63
        if not 0 <= b < 64:
            raise GeometryError(f"polyline: invalid character {ch!r} at offset {pos}")
        result |= (b & 0x1F) << shift
        shift += 5
        if b < 0x20:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            shift = result = 0
    if shift != 0:
        raise GeometryError("polyline: truncated (last value unfinished)")
    if len(values) % 2:
        raise GeometryError("polyline: odd number of values (a latitude without longitude)")
    out: list[LatLon] = []
    lat = lon = 0
    for i in range(0, len(values), 2):
        lat += values[i]
        lon += values[i + 1]
        out.append(check_point(lat / factor, lon / factor, f"polyline point {i // 2}"))
    return out


def parse_linestring(obj: Any) -> list[LatLon]:
    """``(lat, lon)`` points of a GeoJSON LineString (coordinates are ``[lon, lat(, alt)]``).

    A Feature whose geometry is a LineString is accepted too.
    """
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict) or obj.get("type") != "LineString":
        got = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise GeometryError(f"path must be a GeoJSON LineString, got {got!r}")
    coords = obj.get("coordinates")
    if not isinstance(coords, list):
        raise GeometryError("LineString 'coordinates' must be a list of [lon, lat] positions")
    if len(coords) < 2:
        raise GeometryError(f"LineString needs at least 2 positions, got {len(coords)}")
    out: list[LatLon] = []
    for i, c in enumerate(coords):
        if not isinstance(c, list | tuple) or len(c) < 2:
            raise GeometryError(f"LineString position {i} must be [lon, lat], got {c!r}")
        out.append(check_point(c[1], c[0], f"LineString position {i}"))
    return out


def parse_point(obj: Any, what: str) -> LatLon:
    """A location given as ``{"lat":..,"lon":..}`` or a GeoJSON Point ``[lon, lat]``."""
    if isinstance(obj, dict) and obj.get("type") == "Point":
        c = obj.get("coordinates")
        if not isinstance(c, list | tuple) or len(c) < 2:
            raise GeometryError(f"{what}: Point coordinates must be [lon, lat], got {c!r}")
        return check_point(c[1], c[0], what)
    if isinstance(obj, dict) and "lat" in obj and "lon" in obj:
        return check_point(obj["lat"], obj["lon"], what)
    raise GeometryError(
        f'{what}: location must be {{"lat": .., "lon": ..}} or a GeoJSON Point, got {obj!r}'
    )
