"""Daily limits of one shift: calculation periods, split-sleeper pairing and their violations.

A shift runs from the first on-duty instant after a full rest (10 h property, 8 h
passenger) to the start of the next full rest, or to the evaluation time. Inside it,
rest periods may be paired (395.1(g)(1) property, 395.1(g)(3) passenger); each pairing
scheme splits the shift into calculation periods (the FMCSA driver's guide method), and
the scheme with the fewest violations is used (FMCSA 2020 HOS FAQ Q4).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from .intervals import Interval, merge, severity_key
from .rules import Limits
from .timeline import RestRun, Segment

# Enumeration is exhaustive for realistic shifts; the cap keeps a pathological one
# (dozens of qualifying rests without a full reset) bounded.
MAX_SCHEMES = 4000

Pair = tuple[RestRun, RestRun]


@dataclass(frozen=True, slots=True)
class Shift:
    start: int  # first on-duty instant after a full rest, epoch s
    end: int  # start of the closing full rest, or the evaluation time
    qrps: tuple[RestRun, ...]  # rest runs inside the shift that may be a split half
    closing: RestRun | None  # the full rest ending the shift (may close a pair)


@dataclass(frozen=True, slots=True)
class Period:
    start: int
    end: int
    excluded: RestRun | None  # property: the paired first rest left out of the window


@dataclass(frozen=True, slots=True)
class ShiftOutcome:
    scheme: tuple[Pair, ...]
    violations: tuple[tuple[str, Interval], ...]
    current: Period  # the trailing calculation period (clocks are measured in it)
    drive_used_s: int  # driving in the trailing period
    window_used_s: int  # property: elapsed wall time; passenger: on-duty time


def qualifies(run: RestRun, limits: Limits) -> bool:
    """Can this rest run be one half of a split?"""
    if limits.passenger:
        return run.max_sb_s >= limits.split_min_s
    return run.length >= limits.split_min_s


def pair_ok(x: RestRun, y: RestRun, limits: Limits) -> bool:
    """395.1(g)(1)(ii) (property) / (g)(3) (passenger) pair conditions."""
    if limits.passenger:
        # two sleeper periods, neither shorter than 2 h, together at least 8 h
        return (
            x.max_sb_s >= limits.split_min_s
            and y.max_sb_s >= limits.split_min_s
            and x.max_sb_s + y.max_sb_s >= limits.split_total_s
        )
    return (
        x.length >= limits.split_min_s
        and y.length >= limits.split_min_s
        and max(x.max_sb_s, y.max_sb_s) >= limits.split_long_sb_s
        and x.length + y.length >= limits.split_total_s
    )


def schemes(shift: Shift, limits: Limits) -> list[tuple[Pair, ...]]:
    """All pairing schemes X1 < Y1 <= X2 < Y2 ..., the empty one first (capped)."""
    xs = list(shift.qrps)
    ys = xs + ([shift.closing] if shift.closing is not None else [])
    out: list[tuple[Pair, ...]] = [()]

    def walk(first_x: int, acc: tuple[Pair, ...]) -> None:
        for j in range(first_x, len(xs)):
            for k in range(j + 1, len(ys)):
                if len(out) >= MAX_SCHEMES:
                    return
                if not pair_ok(xs[j], ys[k], limits):
                    continue
                scheme = (*acc, (xs[j], ys[k]))
                out.append(scheme)
                if k < len(xs):  # a closing full rest ends the shift
                    walk(k, scheme)

    walk(0, ())
    return out


def periods_of(shift: Shift, scheme: tuple[Pair, ...]) -> list[Period]:
    """Calculation periods: [P(i-1), start(Yi)) minus Xi, then the trailing [P(n), end)."""
    periods: list[Period] = []
    p = shift.start
    for x, y in scheme:
        periods.append(Period(p, y.start, x))
        p = x.end
    periods.append(Period(p, shift.end, None))
    return periods


def _overlapping(segs: Sequence[Segment], starts: Sequence[int], a: int, b: int) -> list[Segment]:
    i = max(0, bisect.bisect_right(starts, a) - 1)
    out = []
    while i < len(segs) and segs[i].start < b:
        if segs[i].end > a:
            out.append(segs[i])
        i += 1
    return out


def check_period(
    period: Period, segs: Sequence[Segment], starts: Sequence[int], limits: Limits
) -> tuple[list[tuple[str, Interval]], int, int]:
    """Violations in one period plus (driving used, window used) at its end, seconds."""
    found: list[tuple[str, Interval]] = []
    drive = 0
    on_duty = 0
    a, b = period.start, period.end
    deadline = a + limits.window_s
    x = period.excluded
    if x is not None and x.start < deadline:
        deadline += x.length  # the paired rest does not count toward the 14 hours
    for seg in _overlapping(segs, starts, a, b):
        s, e = max(seg.start, a), min(seg.end, b)
        length = e - s
        if seg.kind == "D":
            if drive + length > limits.drive_s:
                found.append((limits.drive_rule, (s + max(0, limits.drive_s - drive), e)))
            if limits.passenger:
                if on_duty + length > limits.window_s:
                    found.append((limits.window_rule, (s + max(0, limits.window_s - on_duty), e)))
            elif e > deadline:
                found.append((limits.window_rule, (max(s, deadline), e)))
            drive += length
        if seg.kind in ("D", "ON"):
            on_duty += length
    if limits.passenger:
        used = on_duty
    else:
        used = b - a - (x.length if x is not None and x.end <= b else 0)
    return found, drive, used


def evaluate_shift(
    shift: Shift, segs: Sequence[Segment], limits: Limits, starts: Sequence[int] | None = None
) -> ShiftOutcome:
    """Pick the pairing scheme per FAQ-2020 Q4 and return its violations and clocks.

    ``starts`` (the segments' start instants) may be passed to avoid recomputing them.
    """
    if starts is None:
        starts = [s.start for s in segs]
    best: tuple[tuple, ShiftOutcome] | None = None
    for scheme in schemes(shift, limits):
        found: list[tuple[str, Interval]] = []
        periods = periods_of(shift, scheme)
        drive = used = 0
        for period in periods:
            v, drive, used = check_period(period, segs, starts, limits)
            found.extend(v)
        violations = merge_by_rule(found)
        # the trailing period decides what is available "moving forward"
        available = max(0, limits.drive_s - drive) + max(0, limits.window_s - used)
        key = (*severity_key([iv for _, iv in violations]), -available)
        outcome = ShiftOutcome(scheme, tuple(violations), periods[-1], drive, used)
        if best is None or key < best[0]:
            best = (key, outcome)
    assert best is not None  # the empty scheme always exists
    return best[1]


def merge_by_rule(found: Sequence[tuple[str, Interval]]) -> list[tuple[str, Interval]]:
    """Union of violation intervals, per rule (periods overlap, so they can repeat)."""
    rules = sorted({r for r, _ in found})
    out: list[tuple[str, Interval]] = []
    for rule in rules:
        out.extend((rule, iv) for iv in merge([iv for r, iv in found if r == rule]))
    return out
