"""The pure adherence engine on simulated drives over the shipped Chicago West Loop route.

Drives are generated here (1 Hz fixes along the planned path, dwelling at chosen vertices,
with optional sideways offsets for detours and GPS noise), so every scenario is exact and
deterministic. ``DriveBuilder`` and ``chicago_plan`` are reused by the store/API tests.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

import pytest

from cloud.adherence import Fix, PlanError, desired_alerts, follow, parse_plan
from cloud.adherence.geometry import Path

REPO = FsPath(__file__).resolve().parents[2]
ROUTE_FILE = REPO / "sim" / "routes" / "chicago_west_loop.json"
T0 = 1_714_564_800_000  # 2024-05-01T12:00:00Z
MIN = 60_000
M_PER_DEG = 6_371_008.8 * math.pi / 180


def shipped_route() -> dict[str, Any]:
    return json.loads(ROUTE_FILE.read_text())


def delivery_vertices() -> list[int]:
    """Vertex indices of the route's delivery stops (the traffic signals are not stops)."""
    return [s["point"] for s in shipped_route()["stops"] if s["name"].startswith("delivery")]


def chicago_plan(
    start_ms: int = T0,
    stop_vertices: list[int] | None = None,
    windows_min: list[tuple[float, float]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Route JSON (as the API takes it) for the shipped route: path as a GeoJSON LineString,
    one stop per vertex in ``stop_vertices`` (default: the three deliveries)."""
    route = shipped_route()
    pts = route["points"]
    verts = stop_vertices if stop_vertices is not None else delivery_vertices()
    names = {s["point"]: s["name"] for s in route["stops"]}
    stops = []
    for k, v in enumerate(verts):
        stop: dict[str, Any] = {
            "name": names.get(v, f"vertex {v}"),
            "location": {"lat": pts[v][0], "lon": pts[v][1]},
            "radius_m": 40,
            "dwell_s": 120,
        }
        if windows_min is not None:
            ws, we = windows_min[k]
            stop["window"] = {"start": start_ms + int(ws * MIN), "end": start_ms + int(we * MIN)}
        stops.append(stop)
    return {
        "name": "chicago west loop",
        "path": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in pts]},
        "stops": stops,
        "corridor_m": 50,
        "scheduled_start": start_ms,
        **extra,
    }


class DriveBuilder:
    """1 Hz fixes along the shipped path at ``speed_mps``, dwelling ``dwell[v]`` seconds at
    vertex ``v``; ``lateral(chainage_m, time_ms)`` shifts a fix sideways (metres, left of travel)
    and ``flags(chainage_m, time_ms)`` marks its quality."""

    def __init__(self, start_ms: int = T0, speed_mps: float = 10.0) -> None:
        self.points = [tuple(p) for p in shipped_route()["points"]]
        self.path = Path(self.points)
        self.start_ms = start_ms
        self.speed = speed_mps

    def _at(self, s: float, lateral_m: float) -> tuple[float, float]:
        ch = self.path.chainage
        i = max(0, min(len(ch) - 2, next((k for k in range(len(ch) - 1) if ch[k + 1] >= s), 0)))
        (alat, alon), (blat, blon) = self.points[i], self.points[i + 1]
        frac = (s - ch[i]) / (ch[i + 1] - ch[i])
        lat, lon = alat + (blat - alat) * frac, alon + (blon - alon) * frac
        kx = M_PER_DEG * math.cos(math.radians(alat))
        ex, ny = (blon - alon) * kx, (blat - alat) * M_PER_DEG
        norm = math.hypot(ex, ny)
        # left normal of the travel direction
        lx, ly = -ny / norm, ex / norm
        return lat + ly * lateral_m / M_PER_DEG, lon + lx * lateral_m / kx

    def drive(
        self,
        dwell: dict[int, int],
        *,
        start_dwell_s: int = 30,
        lateral: Callable[[float, int], float] | None = None,
        flags: Callable[[float, int], tuple[str, ...]] | None = None,
        end_dwell_s: int = 60,
    ) -> list[Fix]:
        out: list[Fix] = []
        t = self.start_ms
        s = 0.0

        def emit(speed: float) -> None:
            off = lateral(s, t) if lateral else 0.0
            lat, lon = self._at(s, off)
            out.append(Fix(t, lat, lon, speed, flags(s, t) if flags else ()))

        for _ in range(start_dwell_s):
            emit(0.0)
            t += 1000
        queue = sorted((self.path.chainage[v], secs) for v, secs in dwell.items())
        length = self.path.length_m
        while s < length:
            nxt = s + self.speed
            if queue and nxt >= queue[0][0]:
                s = queue[0][0]
                for _ in range(queue.pop(0)[1]):
                    emit(0.0)
                    t += 1000
                continue
            s = min(nxt, length)
            emit(self.speed)
            t += 1000
        for _ in range(end_dwell_s):
            emit(0.0)
            t += 1000
        return out


def kinds(result: Any, kind: str) -> list[Any]:
    return [e for e in result.events if e.kind == kind]


def standard_dwell() -> dict[int, int]:
    return dict.fromkeys(delivery_vertices(), 180)


# ---------------------------------------------------------------------- scenarios
def test_clean_run_scores_near_100() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 60)]))
    fixes = DriveBuilder().drive(standard_dwell())
    r = follow(plan, fixes)
    assert r.state == "completed"
    assert [o.status for o in r.stops] == ["on_time"] * 3
    assert kinds(r, "off_route") == [] and kinds(r, "skipped") == []
    assert [e.stop_index for e in kinds(r, "arrived")] == [0, 1, 2]
    # arriving at the last stop completes the route; leaving it is still reported
    assert [e.stop_index for e in kinds(r, "departed")] == [0, 1, 2]
    assert r.report["completed_ms"] == r.stops[2].arrival_ms
    rep = r.report
    assert rep["corridor_share"] == pytest.approx(1.0)
    assert rep["score"] >= 99.0
    assert rep["off_route_s"] == 0
    assert rep["stops_out_of_sequence"] == 0
    # distance driven up to the last stop is roughly the path up to it
    last_stop_ch = Path([tuple(p) for p in shipped_route()["points"]]).chainage[22]
    assert rep["distance_actual_m"] == pytest.approx(last_stop_ch, rel=0.02)
    assert rep["distance_planned_m"] == pytest.approx(
        Path([tuple(p) for p in shipped_route()["points"]]).length_m, abs=0.1
    )
    # each arrival is where the vehicle entered the 40 m radius; dwell measured to departure
    assert r.stops[0].dwell_s is not None and 180 <= r.stops[0].dwell_s <= 190


def test_detour_leaves_and_rejoins_corridor() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 60)]))
    detour = (3500.0, 4300.0)  # chainage (m) between stops 2 and 3, driven 250 m aside

    def lateral(s: float, _t: int) -> float:
        return 250.0 if detour[0] <= s <= detour[1] else 0.0

    r = follow(plan, DriveBuilder().drive(standard_dwell(), lateral=lateral))
    off, back = kinds(r, "off_route"), kinds(r, "back_on_route")
    assert len(off) == 1 and len(back) == 1
    assert back[0].data["off_since_ms"] == off[0].time_ms
    assert back[0].data["max_distance_m"] == pytest.approx(250, abs=5)
    # 800 m at 10 m/s: about 80 s outside, reported in minutes too
    assert 70 <= r.report["off_route_s"] <= 95
    assert r.report["off_route_episodes"] == 1
    # 800 m of about 4.9 km driven (with the two 250 m sideways moves) is outside
    assert 0.70 < r.report["corridor_share"] < 0.90
    assert r.report["score"] < 99.0
    alerts = desired_alerts("r1", "test", r)
    dev = [a for a in alerts.values() if a.kind == "route_deviation"]
    assert len(dev) == 1 and dev[0].resolved_ms == back[0].time_ms


def test_skipped_stop_when_a_later_stop_is_served_first() -> None:
    plan = parse_plan(chicago_plan())
    dwell = standard_dwell()
    del dwell[delivery_vertices()[1]]  # drives past stop 2 without stopping
    r = follow(plan, DriveBuilder().drive(dwell))
    assert [o.status for o in r.stops] == ["on_time", "skipped", "on_time"]
    skipped = kinds(r, "skipped")
    assert len(skipped) == 1 and skipped[0].data["reason"] == "later_stop_served"
    assert skipped[0].time_ms == r.stops[2].arrival_ms
    assert r.report["stops_skipped"] == 1
    # stops part = (1 + 0 + 1) / 3
    assert r.report["score_parts"]["stops"] == pytest.approx(2 / 3)
    open_alerts = [a for a in desired_alerts("r", "", r).values() if a.resolved_ms is None]
    assert [a.key for a in open_alerts] == ["route:r:stop:1:skipped"]


def test_skipped_when_the_window_closes() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 2), (0, 60)], skip_after_s=60))
    fixes = [f for f in DriveBuilder().drive(standard_dwell()) if f.time_ms < T0 + 4 * MIN]
    r = follow(plan, fixes)
    assert r.state == "in_progress"
    sk = kinds(r, "skipped")
    assert [(e.stop_index, e.data["reason"], e.time_ms) for e in sk] == [
        (1, "window_closed", T0 + 3 * MIN)
    ]


def test_late_arrival_and_late_eta_before_the_window_closes() -> None:
    # stop 3 must be reached within 10 minutes: impossible with two 3-minute stops before it
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 10)]))
    r = follow(plan, DriveBuilder().drive(standard_dwell()))
    assert [o.status for o in r.stops] == ["on_time", "on_time", "late"]
    assert r.stops[2].lateness_s is not None and r.stops[2].lateness_s > 0
    eta = kinds(r, "eta_late")
    assert [e.stop_index for e in eta] == [2]
    assert eta[0].time_ms < T0 + 10 * MIN  # warned before the window was missed
    assert eta[0].data["eta_ms"] > T0 + 10 * MIN
    assert r.report["stops_late"] == 1
    assert r.report["score_parts"]["stops"] == pytest.approx((1 + 1 + 0.5) / 3)
    alerts = desired_alerts("r", "", r)
    assert alerts["route:r:eta:2"].resolved_ms == r.stops[2].arrival_ms
    assert alerts["route:r:stop:2:arrived"].severity == "medium"


def test_stops_served_out_of_order() -> None:
    v = delivery_vertices()
    # the plan lists the Damen stop before the Wood stop; the vehicle drives the path in order
    plan = parse_plan(chicago_plan(stop_vertices=[v[0], v[2], v[1], 28]))
    dwell = {**standard_dwell(), 28: 90}
    r = follow(plan, DriveBuilder().drive(dwell))
    assert [e.stop_index for e in kinds(r, "arrived")] == [0, 2, 1, 3]
    assert [o.out_of_sequence for o in r.stops] == [False, True, False, False]
    assert all(o.status == "on_time" for o in r.stops)
    # stop 1 was skipped when stop 2 was served, then served after all: not counted skipped
    assert [e.stop_index for e in kinds(r, "skipped")] == [1]
    assert r.report["stops_skipped"] == 0 and r.report["stops_out_of_sequence"] == 1
    assert r.report["score_parts"]["sequence"] == pytest.approx(0.75)
    assert desired_alerts("r", "", r)["route:r:stop:1:skipped"].resolved_ms == r.stops[1].arrival_ms


def test_gps_noise_at_the_corridor_edge_does_not_flap() -> None:
    plan = parse_plan(chicago_plan())

    def noisy(s: float, t: int) -> float:
        # 2 km of fixes jumping between 44 m and 57 m from the path (corridor 50 m)
        if 500 <= s <= 2500:
            return 57.0 if (t // 1000) % 2 else 44.0
        return 0.0

    r = follow(plan, DriveBuilder().drive(standard_dwell(), lateral=noisy))
    assert kinds(r, "off_route") == [] and kinds(r, "back_on_route") == []
    assert r.report["off_route_s"] == 0
    # the corridor share is geometric: the outside half of the noisy fixes shows
    assert r.report["corridor_share"] < 1.0


def test_hysteresis_when_coming_back_along_the_corridor_edge() -> None:
    plan = parse_plan(chicago_plan())

    clearly_back: list[int] = []

    def lateral(s: float, t: int) -> float:
        if 3500 <= s < 3800:
            return 200.0
        if 3800 <= s < 4200:  # back near the edge: inside, but not by the hysteresis margin
            return 45.0 if (t // 1000) % 3 else 52.0
        if s >= 4200 and not clearly_back:
            clearly_back.append(t)
        return 0.0

    r = follow(plan, DriveBuilder().drive(standard_dwell(), lateral=lateral))
    off, back = kinds(r, "off_route"), kinds(r, "back_on_route")
    assert len(off) == 1 and len(back) == 1
    # back on route only once clearly inside (from chainage 4200 m on), not at 3800 m
    assert back[0].time_ms == clearly_back[0]
    assert back[0].data["off_route_s"] >= 65  # 3500 m .. 4200 m at 10 m/s


def test_low_quality_fixes_do_not_trigger_off_route_and_untrusted_are_ignored() -> None:
    plan = parse_plan(chicago_plan())

    def lateral(s: float, _t: int) -> float:
        return 300.0 if 3500 <= s <= 4300 else 0.0

    def flags(s: float, _t: int) -> tuple[str, ...]:
        return ("high_hdop",) if 3500 <= s <= 4300 else ()

    fixes = DriveBuilder().drive(standard_dwell(), lateral=lateral, flags=flags)
    # and some garbage: a jump far away, a no-fix, a zero position
    t = fixes[100].time_ms
    fixes += [
        Fix(t + 1, 41.7, -87.9, 10.0, ("jump",)),
        Fix(t + 2, None, None, None, ("no_fix",), False),
        Fix(t + 3, 0.0, 0.0, 0.0, ()),
    ]
    r = follow(plan, fixes)
    assert kinds(r, "off_route") == []
    assert r.report["fixes_ignored"] == 3
    assert r.report["fixes_low_quality"] > 50
    assert all(o.status == "on_time" for o in r.stops)


def test_backlog_in_any_order_gives_the_live_result() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 10)]))

    def lateral(s: float, _t: int) -> float:
        return 250.0 if 3500 <= s <= 4300 else 0.0

    fixes = DriveBuilder().drive(standard_dwell(), lateral=lateral)
    live = follow(plan, fixes)
    shuffled = fixes[:]
    random.Random(7).shuffle(shuffled)
    backlog = follow(plan, shuffled)
    assert backlog.to_json() == live.to_json()
    assert {e.kind for e in live.events} >= {"off_route", "back_on_route", "eta_late"}


def test_eta_follows_progress() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 60)]))
    fixes = DriveBuilder().drive(standard_dwell())
    first_arrival = follow(plan, fixes).stops[0].arrival_ms
    assert first_arrival is not None
    early = follow(plan, [f for f in fixes if f.time_ms <= T0 + 90_000])
    later = follow(plan, [f for f in fixes if f.time_ms <= first_arrival - 20_000])
    assert [e.stop_index for e in early.eta] == [0, 1, 2]
    assert early.eta[0].distance_m > later.eta[0].distance_m > 0
    # driving at 10 m/s the predicted arrival at stop 1 is close to the real one
    assert abs(later.eta[0].eta_ms - first_arrival) < 15_000
    assert early.eta[0].eta_ms < early.eta[1].eta_ms < early.eta[2].eta_ms


def test_driving_from_the_yard_to_the_path_is_not_off_route() -> None:
    plan = parse_plan(chicago_plan())
    drive = DriveBuilder(start_ms=T0 + 60_000).drive(standard_dwell())
    lat0, lon0 = drive[0].lat, drive[0].lon
    assert lat0 is not None and lon0 is not None
    # one minute from a yard 600 m south of the depot, straight towards it
    approach = [
        Fix(T0 + k * 1000, lat0 - 600 * (1 - k / 60) / M_PER_DEG, lon0, 10.0) for k in range(60)
    ]
    r = follow(plan, approach + drive)
    assert kinds(r, "off_route") == []
    assert r.report["joined_ms"] is not None and r.report["joined_ms"] > T0 + 50_000
    assert r.report["corridor_share"] == pytest.approx(1.0)
    # while still on the way to the path the route is under way with ETAs
    early = follow(plan, approach[:30])
    assert early.state == "in_progress" and len(early.eta) == 3


def test_passing_a_stop_at_speed_is_not_an_arrival() -> None:
    plan = parse_plan(chicago_plan())
    r = follow(plan, DriveBuilder().drive({}))
    assert kinds(r, "arrived") == []
    assert r.state == "in_progress" and [o.status for o in r.stops] == ["pending"] * 3
    # once the route's end has passed (event time), unserved stops are skipped
    ended = follow(plan, DriveBuilder().drive({}), as_of_ms=plan.end_ms)
    assert ended.state == "ended"
    assert [o.skipped_reason for o in ended.stops] == ["route_ended"] * 3
    assert ended.report["score_parts"]["stops"] == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path": {"type": "LineString", "coordinates": [[-87.6, 41.8]]}}, "at least 2"),
        ({"path": {"type": "Point", "coordinates": [-87.6, 41.8]}}, "LineString"),
        ({"corridor_m": -5}, "corridor_m"),
        ({"corridor_m": 0}, "corridor_m"),
        ({"stops": [{"name": "x"}]}, "stops[0].location"),
        (
            {
                "stops": [
                    {
                        "location": {"lat": 41.9, "lon": -87.6},
                        "window": {"start": T0 + 10, "end": T0},
                    }
                ]
            },
            "end is before start",
        ),
        ({"polyline": "_p~iF~ps|U"}, "exactly one"),
        ({"scheduled_start": "yesterday"}, "scheduled_start"),
        ({"stops": [{"location": {"lat": 95, "lon": 0}}]}, "outside [-90, 90]"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    raw = {**chicago_plan(), **change}
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_plan(raw)


def test_plan_json_round_trip_and_polyline_input() -> None:
    plan = parse_plan(chicago_plan(windows_min=[(0, 30), (0, 45), (0, 60)]))
    from cloud.adherence import Plan

    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    raw = chicago_plan()
    del raw["path"]
    raw["polyline"] = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    poly = parse_plan(raw)
    assert poly.path == ((38.5, -120.2), (40.7, -120.95), (43.252, -126.453))


WEIRD: list[Any] = [None, True, "x", "", -1, 0, 1e308, float("nan"), [], {}, [1], {"lat": 1}]


def test_any_malformed_field_is_a_plan_error_never_a_crash() -> None:
    base = chicago_plan(windows_min=[(0, 30), (0, 45), (0, 60)])
    base["stops"][1]["appointment"] = base["stops"][1].pop("window")["end"]
    fields = [*base, "polyline", "polyline_precision", "end", "min_dwell_s", "hysteresis_m"]
    stop_fields = [*base["stops"][0], "appointment", "appointment_tolerance_s", "min_dwell_s"]
    outcomes = {"ok": 0, "refused": 0}

    def attempt(raw: dict[str, Any]) -> None:
        try:
            parse_plan(raw)
            outcomes["ok"] += 1
        except PlanError as exc:
            assert str(exc)
            outcomes["refused"] += 1

    for value in WEIRD:
        for name in fields:
            attempt({**base, name: value})
        for name in stop_fields:
            for k in range(len(base["stops"])):
                stops = [dict(s) for s in base["stops"]]
                stops[k][name] = value
                attempt({**base, "stops": stops})
        for sub in ("start", "end"):
            stops = [dict(s) for s in base["stops"]]
            stops[0]["window"] = {**stops[0]["window"], sub: value}
            attempt({**base, "stops": stops})
    assert outcomes["refused"] > 100 and outcomes["ok"] > 10
