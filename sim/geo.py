"""Small spherical-earth helpers for the simulator: distances in metres, bearings in
degrees clockwise from true north, and a local flat projection for short segments."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial true bearing in degrees [0, 360) from point 1 to point 2."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def turn_angle_deg(bearing_in: float, bearing_out: float) -> float:
    """Absolute heading change in degrees [0, 180] between two bearings."""
    diff = (bearing_out - bearing_in + 180.0) % 360.0 - 180.0
    return abs(diff)


def offset_m(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres away (flat approximation, fine below ~10 km)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def interpolate(
    lat1: float, lon1: float, lat2: float, lon2: float, frac: float
) -> tuple[float, float]:
    """Point at fraction ``frac`` (0..1) along a short segment (linear in degrees)."""
    return lat1 + (lat2 - lat1) * frac, lon1 + (lon2 - lon1) * frac


def project_on_segment(
    lat: float, lon: float, a: tuple[float, float], b: tuple[float, float]
) -> tuple[float, float]:
    """(distance in metres from the point to segment a-b, fraction 0..1 of the foot point)."""
    k_lon = math.cos(math.radians((a[0] + b[0]) / 2))
    ax, ay = 0.0, 0.0
    bx, by = (b[1] - a[1]) * k_lon, b[0] - a[0]
    px, py = (lon - a[1]) * k_lon, lat - a[0]
    seg2 = bx * bx + by * by
    frac = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((px - ax) * bx + (py - ay) * by) / seg2))
    fx, fy = ax + frac * bx, ay + frac * by
    dist_deg = math.hypot(px - fx, py - fy)
    return math.radians(dist_deg) * EARTH_RADIUS_M, frac
