"""The adherence engine: ``follow(plan, positions)`` replays a route's fixes in event time.

Pure: the result (events, per-stop outcomes, report, ETA) depends only on the plan and the
*set* of fixes of the route's time span, which are sorted here. So the same fixes give the
same result whether they came live in small batches or as one late, shuffled backlog.
Rules and the score formula are documented in docs/routes.md.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from cloud.adherence.geometry import Path, haversine_m
from cloud.adherence.plan import Plan, Stop
from wire.records import UNTRUSTED_FLAGS

LOW_QUALITY_FLAGS = frozenset({"few_sats", "high_hdop"})  # usable, but never triggers off-route

ETA_EVERY_MS = 30_000  # ETAs are re-evaluated at most this often (event time)
SPEED_WINDOW_MS = 600_000  # "recent progress" = the last 10 minutes
MIN_MOVING_MS = 60_000  # less moving time than this in the window: use the planned speed
MOVING_MPS = 1.0  # a step faster than this counts as moving
BACKTRACK_M = 100.0  # progress may be re-matched this far behind (GPS noise)

# Points per stop outcome in the score (docs/routes.md).
STOP_POINTS = {"on_time": 1.0, "early": 0.8, "late": 0.5, "skipped": 0.0}
WEIGHTS = {"corridor": 0.4, "stops": 0.4, "sequence": 0.2}
SCORE_FORMULA = (
    "score = 100 * (0.4*corridor + 0.4*stops + 0.2*sequence) / (sum of the weights of the "
    "parts that are defined); corridor = distance driven inside the corridor / distance "
    "driven; stops = mean over decided stops of on_time 1, early 0.8, late 0.5, skipped 0 "
    "(pending stops are left out); sequence = 1 - stops served out of sequence / stops "
    "served. A part without data (nothing driven, no stop decided, none served) is left out."
)


@dataclass(frozen=True, slots=True)
class Fix:
    """One GNSS fix as stored: UTC ms, degrees, m/s, quality flags from the agent."""

    time_ms: int
    lat: float | None
    lon: float | None
    speed_mps: float | None = None
    flags: tuple[str, ...] = ()
    valid: bool | None = True

    @property
    def trusted(self) -> bool:
        return (
            self.valid is not False
            and self.lat is not None
            and self.lon is not None
            and math.isfinite(self.lat)
            and math.isfinite(self.lon)
            and not (self.lat == 0.0 and self.lon == 0.0)
            and not UNTRUSTED_FLAGS.intersection(self.flags)
        )

    @property
    def low_quality(self) -> bool:
        return bool(LOW_QUALITY_FLAGS.intersection(self.flags))


@dataclass(frozen=True, slots=True)
class AdherenceEvent:
    """off_route, back_on_route, arrived, departed, skipped or eta_late, at event time."""

    key: str  # stable identity within the route, e.g. "off_route:1714564830000", "arrived:2"
    kind: str
    time_ms: int
    stop_index: int | None
    data: dict[str, Any]


@dataclass(slots=True)
class StopOutcome:
    index: int
    name: str
    status: str  # pending / on_time / early / late / skipped
    arrival_ms: int | None = None
    departure_ms: int | None = None
    dwell_s: float | None = None
    out_of_sequence: bool = False
    lateness_s: float | None = None  # arrival - window end (> 0 late, < 0 margin)
    skipped_ms: int | None = None
    skipped_reason: str | None = None  # later_stop_served / window_closed / route_ended


@dataclass(frozen=True, slots=True)
class Eta:
    stop_index: int
    name: str
    eta_ms: int
    distance_m: float  # along the path from the vehicle's progress
    window_end_ms: int | None
    late: bool


@dataclass(slots=True)
class AdherenceResult:
    state: str  # planned / in_progress / completed / ended
    as_of_ms: int
    progress_m: float
    events: list[AdherenceEvent]
    stops: list[StopOutcome]
    report: dict[str, Any]
    eta: list[Eta]
    speed_mps: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def classify_arrival(stop: Stop, arrival_ms: int) -> str:
    """on_time / early / late against the stop's window (no window: on_time)."""
    if stop.window_start_ms is not None and arrival_ms < stop.window_start_ms:
        return "early"
    if stop.window_end_ms is not None and arrival_ms > stop.window_end_ms:
        return "late"
    return "on_time"


def stop_chainages(path: Path, stops: tuple[Stop, ...]) -> list[float]:
    """Where each stop lies along the path, never before the previous stop (so a loop or an
    out-and-back path places each stop on the pass the plan means)."""
    out: list[float] = []
    lo = 0.0
    for s in stops:
        best_d, best_ch = math.inf, lo
        for i in range(len(path.points) - 1):
            if path.chainage[i + 1] < lo:
                continue
            d, ch = path.segment_projection(i, s.lat, s.lon)
            if ch >= lo and d < best_d:
                best_d, best_ch = d, ch
        out.append(best_ch)
        lo = best_ch
    return out


def score(report: dict[str, Any]) -> tuple[float | None, dict[str, float | None]]:
    """The overall score 0..100 (see ``SCORE_FORMULA``) and its parts 0..1."""
    parts: dict[str, float | None] = {"corridor": report.get("corridor_share")}
    decided = [
        STOP_POINTS[k.removeprefix("stops_")] * report[k]
        for k in ("stops_on_time", "stops_early", "stops_late", "stops_skipped")
    ]
    n_decided = sum(
        report[k] for k in ("stops_on_time", "stops_early", "stops_late", "stops_skipped")
    )
    parts["stops"] = sum(decided) / n_decided if n_decided else None
    served = report["stops_on_time"] + report["stops_early"] + report["stops_late"]
    parts["sequence"] = 1.0 - report["stops_out_of_sequence"] / served if served else None
    num = sum(WEIGHTS[k] * v for k, v in parts.items() if v is not None)
    den = sum(WEIGHTS[k] for k, v in parts.items() if v is not None)
    return (round(100.0 * num / den, 1) if den else None), parts


class _Follower:
    """The replay state; one instance per ``follow`` call."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.path = Path(plan.path, cell_m=max(250.0, 3 * plan.corridor_m))
        self.stops = plan.stops
        self.stop_ch = stop_chainages(self.path, plan.stops)
        n = len(plan.stops)
        self.events: list[AdherenceEvent] = []
        # off-route machine
        self.off = False
        self.off_since: int | None = None
        self.out_since: int | None = None  # first fix of the current run outside the corridor
        self.in_since: int | None = None  # while off: first fix of the run well inside
        self.off_max_m = 0.0
        self.off_ms = 0
        self.episodes = 0
        # distance
        self.prev: tuple[int, float, float, bool] | None = None  # time, lat, lon, inside
        self.total_m = 0.0
        self.inside_m = 0.0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.used = 0
        self.low_quality = 0
        # progress and speed
        self.progress = 0.0
        self.steps: deque[tuple[int, int, float]] = deque()  # (time, dt ms, progress m) moving
        # stops
        self.run_start: list[int | None] = [None] * n
        self.run_confirmed = [False] * n
        self.run_at_first = [False] * n
        self.outcomes = [StopOutcome(i, s.name, "pending") for i, s in enumerate(plan.stops)]
        self.next_expected = 0
        self.max_served = -1
        self.completed_ms: int | None = None
        self.joined_ms: int | None = None  # first fix inside the corridor
        self.eta_bucket: int | None = None
        self.eta_late_sent: set[int] = set()

    # ------------------------------------------------------------------ helpers
    def emit(self, key: str, kind: str, time_ms: int, stop: int | None, **data: Any) -> None:
        self.events.append(AdherenceEvent(key, kind, time_ms, stop, data))

    def speed(self) -> float:
        moving_ms = sum(dt for _, dt, _ in self.steps)
        advanced = sum(dp for _, _, dp in self.steps)
        if moving_ms < MIN_MOVING_MS:
            return self.plan.planned_speed_mps
        return max(0.1, advanced / (moving_ms / 1000.0))

    # ------------------------------------------------------------------ per fix
    def step(self, f: Fix) -> None:
        t, lat, lon = f.time_ms, float(f.lat), float(f.lon)  # type: ignore[arg-type]
        self.used += 1
        if f.low_quality:
            self.low_quality += 1
        if self.first_ms is None:
            self.first_ms = t
        self.last_ms = t
        if self.completed_ms is not None:
            self._stops(t, lat, lon, first=False)  # only the final stop's departure is left
            return
        near = self.path.nearest(lat, lon)
        inside = near.distance_m <= self.plan.corridor_m
        if self.joined_ms is None:
            # Driving from the yard to the path is not "off route": following starts once
            # the vehicle is first inside the corridor.
            if not inside or f.low_quality:
                self._stops(t, lat, lon, first=self.used == 1)
                self._window_skips(t)
                self._eta_check(t)
                return
            self.joined_ms = t
        moving_dt: int | None = None  # ms since the previous fix when the step was moving
        if self.prev is not None:
            pt, plat, plon, pinside = self.prev
            d = haversine_m(plat, plon, lat, lon)
            self.total_m += d
            self.inside_m += d * ((pinside + inside) / 2)
            if t > pt and d / ((t - pt) / 1000) >= MOVING_MPS:
                moving_dt = t - pt
        self.prev = (t, lat, lon, inside)
        if not f.low_quality:
            self._off_route(t, near.distance_m)
        self._progress(t, lat, lon, moving_dt)
        self._stops(t, lat, lon, first=self.used == 1)
        self._window_skips(t)
        self._eta_check(t)

    def _off_route(self, t: int, dist_m: float) -> None:
        p = self.plan
        if not self.off:
            if dist_m > p.corridor_m:
                self.out_since = t if self.out_since is None else self.out_since
                if t - self.out_since >= p.off_route_min_s * 1000:
                    self.off, self.off_since, self.off_max_m = True, self.out_since, dist_m
                    self.episodes += 1
                    self.emit(
                        f"off_route:{self.out_since}",
                        "off_route",
                        self.out_since,
                        None,
                        distance_m=round(dist_m, 1),
                        corridor_m=p.corridor_m,
                    )
                    self.out_since = self.in_since = None
            else:
                self.out_since = None
            return
        self.off_max_m = max(self.off_max_m, dist_m)
        if dist_m <= p.corridor_m - p.hysteresis_m:
            self.in_since = t if self.in_since is None else self.in_since
            if t - self.in_since >= p.back_on_min_s * 1000:
                assert self.off_since is not None
                self.off_ms += self.in_since - self.off_since
                self.emit(
                    f"back_on_route:{self.in_since}",
                    "back_on_route",
                    self.in_since,
                    None,
                    off_since_ms=self.off_since,
                    off_route_s=(self.in_since - self.off_since) / 1000,
                    max_distance_m=round(self.off_max_m, 1),
                )
                self.off, self.off_since, self.in_since = False, None, None
        else:
            self.in_since = None

    def _progress(self, t: int, lat: float, lon: float, moving_dt: int | None) -> None:
        proj = self.path.nearest_forward(
            lat, lon, max(0.0, self.progress - BACKTRACK_M), self.plan.corridor_m
        )
        gained = 0.0
        if proj is not None and proj.chainage_m > self.progress:
            gained = proj.chainage_m - self.progress
            self.progress = proj.chainage_m
        if moving_dt is not None:
            self.steps.append((t, moving_dt, gained))
        while self.steps and t - self.steps[0][0] > SPEED_WINDOW_MS:
            self.steps.popleft()

    def _stops(self, t: int, lat: float, lon: float, *, first: bool) -> None:
        for i, s in enumerate(self.stops):
            inside = haversine_m(lat, lon, s.lat, s.lon) <= s.radius_m
            start = self.run_start[i]
            if inside:
                if start is None:
                    self.run_start[i] = start = t
                    self.run_at_first[i] = first
                if not self.run_confirmed[i] and t - start >= s.min_dwell_s * 1000:
                    self.run_confirmed[i] = True
                    # Parked at a later stop when the route starts is not serving it.
                    if not (self.run_at_first[i] and i != 0):
                        self._arrive(i, start)
            elif start is not None:
                o = self.outcomes[i]
                if self.run_confirmed[i] and o.arrival_ms == start and o.departure_ms is None:
                    o.departure_ms = t
                    o.dwell_s = (t - start) / 1000
                    self.emit(f"departed:{i}", "departed", t, i, dwell_s=o.dwell_s, name=s.name)
                self.run_start[i], self.run_confirmed[i] = None, False

    def _arrive(self, i: int, ta: int) -> None:
        o = self.outcomes[i]
        if o.arrival_ms is not None or self.completed_ms is not None:
            return
        for k in range(self.next_expected, i):
            ok = self.outcomes[k]
            if ok.arrival_ms is None and ok.skipped_reason is None:
                self._skip(k, ta, "later_stop_served", by_stop=i)
        s = self.stops[i]
        o.arrival_ms = ta
        o.status = classify_arrival(s, ta)
        o.out_of_sequence = self.max_served > i
        if s.window_end_ms is not None:
            o.lateness_s = (ta - s.window_end_ms) / 1000
        self.max_served = max(self.max_served, i)
        self.next_expected = max(self.next_expected, i + 1)
        self.emit(
            f"arrived:{i}",
            "arrived",
            ta,
            i,
            name=s.name,
            status=o.status,
            out_of_sequence=o.out_of_sequence,
            lateness_s=o.lateness_s,
            was_skipped=o.skipped_reason,
        )
        if i == len(self.stops) - 1:
            self.completed_ms = ta

    def _skip(self, k: int, time_ms: int, reason: str, **extra: Any) -> None:
        ok = self.outcomes[k]
        ok.status, ok.skipped_ms, ok.skipped_reason = "skipped", time_ms, reason
        self.emit(
            f"skipped:{k}", "skipped", time_ms, k, name=self.stops[k].name, reason=reason, **extra
        )

    def _window_skips(self, clock_ms: int) -> None:
        for k, s in enumerate(self.stops):
            o = self.outcomes[k]
            if o.arrival_ms is not None or o.skipped_reason is not None or s.window_end_ms is None:
                continue
            deadline = s.window_end_ms + int(self.plan.skip_after_s * 1000)
            if clock_ms >= deadline:
                self._skip(k, deadline, "window_closed")

    def _remaining(self) -> list[int]:
        return [
            i
            for i in range(self.next_expected, len(self.stops))
            if self.outcomes[i].arrival_ms is None
        ]

    def etas(self, now_ms: int) -> list[Eta]:
        speed = self.speed()
        clock = float(now_ms)
        # Still dwelling at the last served stop: the rest of its planned dwell comes first.
        if self.max_served >= 0:
            o = self.outcomes[self.max_served]
            if o.arrival_ms is not None and o.departure_ms is None:
                left = self.stops[self.max_served].dwell_s * 1000 - (now_ms - o.arrival_ms)
                clock += max(0.0, left)
        pos = self.progress
        out: list[Eta] = []
        for i in self._remaining():
            s = self.stops[i]
            dist = max(0.0, self.stop_ch[i] - pos)
            clock += dist / speed * 1000
            eta = round(clock)
            late = s.window_end_ms is not None and eta > s.window_end_ms
            out.append(
                Eta(
                    i, s.name, eta, round(self.stop_ch[i] - self.progress, 1), s.window_end_ms, late
                )
            )
            clock += s.dwell_s * 1000
            pos = max(pos, self.stop_ch[i])
        return out

    def _eta_check(self, t: int) -> None:
        bucket = (t - self.plan.scheduled_start_ms) // ETA_EVERY_MS
        if bucket == self.eta_bucket:
            return
        self.eta_bucket = bucket
        for e in self.etas(t):
            if e.late and e.window_end_ms is not None and t < e.window_end_ms:
                if e.stop_index in self.eta_late_sent:
                    continue
                self.eta_late_sent.add(e.stop_index)
                self.emit(
                    f"eta_late:{e.stop_index}",
                    "eta_late",
                    t,
                    e.stop_index,
                    name=e.name,
                    eta_ms=e.eta_ms,
                    window_end_ms=e.window_end_ms,
                    late_by_s=round((e.eta_ms - e.window_end_ms) / 1000, 1),
                )

    # ------------------------------------------------------------------ end
    def finish(self, as_of_ms: int, ignored: int) -> AdherenceResult:
        plan = self.plan
        if self.completed_ms is None:
            self._window_skips(as_of_ms)
            if as_of_ms >= plan.end_ms:
                for k, o in enumerate(self.outcomes):
                    if o.arrival_ms is None and o.skipped_reason is None:
                        self._skip(k, plan.end_ms, "route_ended")
        end_ms = self.completed_ms if self.completed_ms is not None else self.last_ms
        off_ms = self.off_ms
        if self.off and self.off_since is not None and end_ms is not None:
            off_ms += max(0, end_ms - self.off_since)
        counts = {k: 0 for k in ("on_time", "early", "late", "skipped", "pending")}
        for o in self.outcomes:
            counts[o.status] += 1
        report: dict[str, Any] = {
            "distance_planned_m": round(self.path.length_m, 1),
            "distance_actual_m": round(self.total_m, 1),
            "distance_inside_corridor_m": round(self.inside_m, 1),
            "corridor_share": round(self.inside_m / self.total_m, 4) if self.total_m > 0 else None,
            "off_route_s": off_ms / 1000,
            "off_route_minutes": round(off_ms / 60_000, 2),
            "off_route_episodes": self.episodes,
            "off_route_now": self.off,
            "duration_planned_s": round(plan.planned_duration_s, 1),
            "duration_actual_s": (
                (end_ms - self.first_ms) / 1000
                if end_ms is not None and self.first_ms is not None
                else None
            ),
            "started_ms": self.first_ms,
            "joined_ms": self.joined_ms,
            "completed_ms": self.completed_ms,
            "stops_total": len(self.outcomes),
            **{f"stops_{k}": v for k, v in counts.items()},
            "stops_out_of_sequence": sum(o.out_of_sequence for o in self.outcomes),
            "fixes_used": self.used,
            "fixes_low_quality": self.low_quality,
            "fixes_ignored": ignored,
        }
        report["score"], report["score_parts"] = score(report)
        if self.first_ms is None:
            state = "planned"
        elif self.completed_ms is not None:
            state = "completed"
        elif as_of_ms >= plan.end_ms:
            state = "ended"
        else:
            state = "in_progress"
        eta = self.etas(self.last_ms) if state == "in_progress" and self.last_ms else []
        events = sorted(self.events, key=lambda e: (e.time_ms, _KIND_ORDER[e.kind], e.key))
        return AdherenceResult(
            state,
            as_of_ms,
            round(self.progress, 1),
            events,
            self.outcomes,
            report,
            eta,
            round(self.speed(), 2),
        )


_KIND_ORDER = {
    "off_route": 0,
    "back_on_route": 1,
    "departed": 2,
    "skipped": 3,
    "arrived": 4,
    "eta_late": 5,
}


def _sort_key(f: Fix) -> tuple[Any, ...]:
    return (
        f.time_ms,
        f.lat or 0.0,
        f.lon or 0.0,
        f.speed_mps or 0.0,
        f.flags,
        f.valid is not False,
    )


def follow(plan: Plan, positions: list[Fix], as_of_ms: int | None = None) -> AdherenceResult:
    """Replay ``positions`` (any order) over ``plan`` and return events, outcomes, report, ETA.

    Only fixes inside [plan.scheduled_start_ms, plan.end_ms] are used; untrusted ones
    (invalid, no_fix, zero_position, jump) are counted and skipped. ``as_of_ms`` is the
    event-time "now" used to close windows (default: the newest fix).
    """
    fol = _Follower(plan)
    span = [f for f in positions if plan.scheduled_start_ms <= f.time_ms <= plan.end_ms]
    good = sorted((f for f in span if f.trusted), key=_sort_key)
    for f in good:
        fol.step(f)
    newest = good[-1].time_ms if good else plan.scheduled_start_ms
    clock = max(newest, as_of_ms) if as_of_ms is not None else newest
    return fol.finish(clock, len(span) - len(good))
