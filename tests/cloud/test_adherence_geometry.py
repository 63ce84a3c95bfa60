"""Path geometry: distance to the line (not the vertices), chainage, polylines, GeoJSON."""

from __future__ import annotations

import math

import pytest

from cloud.adherence.geometry import (
    GeometryError,
    Path,
    decode_polyline,
    haversine_m,
    parse_linestring,
    parse_point,
)

M_PER_DEG = 6_371_008.8 * math.pi / 180


def test_distance_is_to_the_segment_not_its_vertices() -> None:
    # a 2 km east-west segment in Chicago; a point 30 m north of its middle
    a, b = (
        (41.8855, -87.68),
        (41.8855, -87.68 + 2000 / (M_PER_DEG * math.cos(math.radians(41.8855)))),
    )
    path = Path([a, b])
    mid_lon = (a[1] + b[1]) / 2
    p = (41.8855 + 30 / M_PER_DEG, mid_lon)
    near = path.nearest(*p)
    assert near.distance_m == pytest.approx(30.0, abs=0.05)
    assert near.chainage_m == pytest.approx(path.length_m / 2, abs=0.5)
    assert haversine_m(*p, *a) > 900 and haversine_m(*p, *b) > 900
    # beyond the end the nearest point is the end vertex
    beyond = (41.8855, b[1] + 100 / (M_PER_DEG * math.cos(math.radians(41.8855))))
    assert path.nearest(*beyond).distance_m == pytest.approx(100.0, abs=0.1)
    assert path.nearest(*beyond).chainage_m == pytest.approx(path.length_m)


def test_out_and_back_path_matches_by_progress() -> None:
    north = 41.8855 + 1000 / M_PER_DEG
    path = Path([(41.8855, -87.65), (north, -87.65), (41.8855, -87.65)])  # up and back down
    quarter = (41.8855 + 250 / M_PER_DEG, -87.65)
    assert path.nearest(*quarter).chainage_m == pytest.approx(250, abs=1)
    back = path.nearest_forward(*quarter, min_chainage_m=1100, max_distance_m=50)
    assert back is not None and back.chainage_m == pytest.approx(1750, abs=1)
    assert path.nearest_forward(*quarter, min_chainage_m=1900, max_distance_m=50) is None


def test_polyline_decoding() -> None:
    # the example of the encoded polyline format's documentation
    assert decode_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@") == [
        (38.5, -120.2),
        (40.7, -120.95),
        (43.252, -126.453),
    ]
    assert decode_polyline("_izlhA~rlgdF", precision=6) == [(38.5, -120.2)]
    with pytest.raises(GeometryError, match="truncated"):
        decode_polyline("_p~iF~ps|")
    with pytest.raises(GeometryError, match="invalid character"):
        decode_polyline("_p~iF ~ps|U")
    with pytest.raises(GeometryError, match="odd number"):
        decode_polyline("_p~iF")


def test_geojson_linestring_and_points() -> None:
    line = {"type": "LineString", "coordinates": [[-87.65, 41.88, 180.0], [-87.66, 41.89]]}
    assert parse_linestring(line) == [(41.88, -87.65), (41.89, -87.66)]
    assert parse_linestring({"type": "Feature", "geometry": line}) == parse_linestring(line)
    with pytest.raises(GeometryError, match="at least 2"):
        parse_linestring({"type": "LineString", "coordinates": [[-87.65, 41.88]]})
    with pytest.raises(GeometryError, match="position 1"):
        parse_linestring({"type": "LineString", "coordinates": [[-87.65, 41.88], ["x", 1]]})
    assert parse_point({"type": "Point", "coordinates": [-87.6, 41.9]}, "s") == (41.9, -87.6)
    assert parse_point({"lat": 41.9, "lon": -87.6}, "s") == (41.9, -87.6)
    with pytest.raises(GeometryError, match="must be finite"):
        parse_point({"lat": float("nan"), "lon": 1.0}, "s")
    with pytest.raises(GeometryError, match="zero length"):
        Path([(41.0, -87.0), (41.0, -87.0)])


def test_grid_lookup_agrees_with_checking_every_segment() -> None:
    import random

    rng = random.Random(5)
    # a zig-zag city path of 300 segments and points scattered near and far from it
    pts = [(41.85 + 0.004 * (k % 7) + 0.0007 * k, -87.70 + 0.003 * k) for k in range(301)]
    path = Path(pts, cell_m=250.0)
    near = 0
    for _ in range(1500):
        # mostly within a few hundred metres of a random spot on the path, some anywhere
        k = rng.randrange(300)
        f = rng.random()
        lat = pts[k][0] + (pts[k + 1][0] - pts[k][0]) * f + rng.uniform(-0.004, 0.004)
        lon = pts[k][1] + (pts[k + 1][1] - pts[k][1]) * f + rng.uniform(-0.005, 0.005)
        if rng.random() < 0.1:
            lat, lon = rng.uniform(41.84, 42.1), rng.uniform(-87.71, -86.79)
        got = path.nearest(lat, lon)
        brute = min(
            (path.segment_projection(i, lat, lon) for i in range(300)), key=lambda dc: dc[0]
        )
        assert got.distance_m == pytest.approx(brute[0], abs=0.002)
        near += brute[0] <= 100.0
        fwd = path.nearest_forward(lat, lon, min_chainage_m=1000.0, max_distance_m=100.0)
        expect = [
            ch
            for d, ch in (path.segment_projection(i, lat, lon) for i in range(300))
            if d <= 100.0 and ch >= 1000.0
        ]
        assert (fwd.chainage_m if fwd else None) == (min(expect) if expect else None)
    assert near > 300  # the grid path (not the fall-back) was exercised
