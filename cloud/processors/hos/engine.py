"""The hours-of-service calculator: a pure function of (events, ruleset, exceptions,
home-terminal time zone, now) implementing the evaluation contract of the HOS digest §11
(/work/shared/reference/hos-eld-rules.md)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from .breaks import break_rule
from .cycle import cycle_rule
from .intervals import Interval, merge
from .model import (
    CalculationPeriod,
    DutyEvent,
    HosResult,
    Remaining,
    SplitPair,
    Violation,
    from_epoch,
)
from .rules import Limits, resolve_limits
from .split_sleeper import Shift, ShiftOutcome, evaluate_shift, qualifies
from .timeline import (
    RestRun,
    Segment,
    build_intervals,
    epoch_s,
    load_zone,
    rest_runs,
    to_segments,
)

# Assumed off-duty history before the first event: longer than a 34-hour restart and
# than the 8-day cycle, so it is both a full rest and a restart (§11 "history").
HISTORY_S = 9 * 24 * 3600


def evaluate(
    events: Sequence[DutyEvent],
    ruleset: str,
    exceptions: Collection[str],
    home_terminal_tz: str,
    now: datetime,
) -> HosResult:
    """Violations and remaining clocks at ``now`` for one driver's duty-status events.

    Events may come in any order; each lasts until the next event's start and the last
    until its ``end`` (default ``now``). Events starting at or after ``now`` are outside
    the evaluation. Raises HosInputError for unusable input.
    """
    limits = resolve_limits(ruleset, exceptions)
    zone = load_zone(home_terminal_tz)
    now_s = epoch_s(now, "now")
    intervals = build_intervals(events, open_end_s=now_s, horizon_s=now_s, require_cover=True)
    segs = to_segments(intervals, HISTORY_S)
    runs = rest_runs(segs)

    found: list[tuple[str, Interval]] = []
    shifts = split_shifts(segs, runs, limits, now_s)
    current: ShiftOutcome | None = None
    starts = [seg.start for seg in segs]
    for shift in shifts:
        outcome = evaluate_shift(shift, segs, limits, starts)
        found.extend(outcome.violations)
        current = outcome
    in_full_rest = bool(runs) and runs[-1].end == now_s and runs[-1].length >= limits.reset_s
    if current is None or in_full_rest:
        current = None  # not on duty since the last full rest: full clocks

    break_found, break_s = break_rule(segs, limits)
    found.extend(("break_30min", iv) for iv in break_found)
    cycle_found, cycle_s, cycle_start = cycle_rule(segs, runs, limits, zone, now_s)
    found.extend((limits.cycle_rule, iv) for iv in merge(cycle_found))

    if current is None:
        drive_s, window_s = limits.drive_s, limits.window_s
    else:
        drive_s = max(0, limits.drive_s - current.drive_used_s)
        window_s = max(0, limits.window_s - current.window_used_s)
    remaining = Remaining(drive_s=drive_s, window_s=window_s, break_s=break_s, cycle_s=cycle_s)
    clocks = [drive_s, window_s, cycle_s] + ([break_s] if break_s is not None else [])

    violations = tuple(
        sorted(
            (Violation(rule, from_epoch(s), from_epoch(e)) for rule, (s, e) in found),
            key=lambda v: (v.start, v.rule, v.end),
        )
    )
    period = CalculationPeriod(
        start=from_epoch(current.current.start) if current is not None else None,
        end=from_epoch(now_s),
        split_pairs=_pairs(current),
        cycle_start=from_epoch(cycle_start) if cycle_start is not None else None,
    )
    return HosResult(
        ruleset=ruleset,
        exceptions=tuple(sorted(set(exceptions))),
        evaluated_at=from_epoch(now_s),
        violations=violations,
        remaining=remaining,
        time_until_first_limit_s=min(clocks),
        calculation_period=period,
    )


def split_shifts(
    segs: Sequence[Segment], runs: Sequence[RestRun], limits: Limits, now_s: int
) -> list[Shift]:
    """Shifts between full rests, each with its split candidates and closing rest."""
    if not segs:
        return []
    full = [r for r in runs if r.length >= limits.reset_s]
    shifts: list[Shift] = []
    for n, opening in enumerate(full):
        if opening.end >= now_s:
            break  # the driver is still in this rest
        closing = full[n + 1] if n + 1 < len(full) else None
        end = closing.start if closing is not None else now_s
        qrps = tuple(
            r
            for r in runs
            if opening.end < r.start
            and r.end <= end
            and r.length < limits.reset_s
            and qualifies(r, limits)
        )
        shifts.append(Shift(opening.end, end, qrps, closing))
    return shifts


def _pairs(outcome: ShiftOutcome | None) -> tuple[SplitPair, ...]:
    if outcome is None:
        return ()
    return tuple(
        SplitPair(from_epoch(x.start), from_epoch(x.end), from_epoch(y.start), from_epoch(y.end))
        for x, y in outcome.scheme
    )
