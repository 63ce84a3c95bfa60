"""Cross-check against a minute-by-minute reference written straight from the rule text.

Without sleeper-berth time no split pairing is possible, so every limit reduces to simple
counters that a naive per-minute simulation can keep; the engine (interval arithmetic,
DST-aware day boundaries) must agree with it minute for minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.processors.hos import RULESETS, HosResult, evaluate

from .test_invariants import make

# no sleeper berth; weighted toward work so that the 60/70-hour limits are reached often
WORKING = [
    "driving",
    "driving",
    "on_duty",
    "on_duty",
    "yard_move",
    "off_duty",
    "personal_conveyance",
]
pieces = st.lists(
    st.tuples(
        st.sampled_from(WORKING),
        st.one_of(
            st.integers(min_value=1, max_value=24).map(lambda n: n * 5),
            st.integers(min_value=1, max_value=40).map(lambda n: n * 30),
        ),
    ),
    min_size=1,
    max_size=60,
)


def reference(
    spec: list[tuple[str, int]], ruleset: str, exc: tuple[str, ...], tz: str, start: datetime
) -> tuple[dict[str, set[int]], dict[str, int | None]]:
    """Violation minutes per rule and remaining clocks (s) by brute force."""
    passenger, cycle_h, cycle_days = RULESETS[ruleset]
    zone = ZoneInfo(tz)
    adverse = 120 if "adverse_driving" in exc else 0
    reset = 8 * 60 if passenger else 10 * 60
    drive_lim = (10 if passenger else 11) * 60 + adverse
    window = 15 * 60 + adverse if passenger else (16 if adverse else 14) * 60
    has_break = not passenger and "short_haul_150" not in exc
    cycle_rule = f"cycle_{cycle_h}_{cycle_days}"
    drive_rule, window_rule = (
        ("driving_10", "on_duty_15") if passenger else ("driving_11", "window_14")
    )
    minutes = [status for status, n in spec for _ in range(n)]
    out: dict[str, set[int]] = {
        r: set() for r in (drive_rule, window_rule, cycle_rule, "break_30min")
    }
    rest_len = 10**6  # history: a long rest
    shift_start: int | None = None
    drive = on = 0
    driven = 0
    pause = 10**6
    per_day: dict[int, int] = {}

    def day(m: int) -> int:
        return (start + timedelta(minutes=m)).astimezone(zone).date().toordinal()

    for m, status in enumerate(minutes):
        resting = status in ("off_duty", "personal_conveyance")
        if resting:
            rest_len += 1
            pause += 1
            if not passenger and rest_len >= 34 * 60:
                per_day.clear()
            continue
        if rest_len >= reset:
            shift_start, drive, on = m, 0, 0
        rest_len = 0
        if status == "driving":
            if drive >= drive_lim:
                out[drive_rule].add(m)
            if passenger and on >= window:
                out[window_rule].add(m)
            if not passenger and m - shift_start >= window:  # type: ignore[operator]
                out[window_rule].add(m)
            if pause >= 30:
                driven = 0
            pause = 0
            if has_break and driven >= 8 * 60:
                out["break_30min"].add(m)
            driven += 1
            d = day(m)
            if sum(per_day.get(d - k, 0) for k in range(cycle_days)) >= cycle_h * 60:
                out[cycle_rule].add(m)
            drive += 1
        else:
            pause += 1
        on += 1
        per_day[day(m)] = per_day.get(day(m), 0) + 1
    end = len(minutes)
    in_shift = rest_len < reset and shift_start is not None
    remaining: dict[str, int | None] = {
        "drive_s": 60 * max(0, drive_lim - drive) if in_shift else 60 * drive_lim,
        "window_s": 60 * window,
        "break_s": None,
        "cycle_s": 60
        * max(0, cycle_h * 60 - sum(per_day.get(day(end) - k, 0) for k in range(cycle_days))),
    }
    if in_shift:
        used = on if passenger else end - shift_start  # type: ignore[operator]
        remaining["window_s"] = 60 * max(0, window - used)
    if has_break:
        remaining["break_s"] = 8 * 3600 if pause >= 30 else 60 * max(0, 8 * 60 - driven)
    return out, remaining


def engine_minutes(r: HosResult, start: datetime) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for v in r.violations:
        a = int((v.start - start).total_seconds()) // 60
        b = int((v.end - start).total_seconds()) // 60
        out.setdefault(v.rule, set()).update(range(a, b))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces,
    st.sampled_from(sorted(RULESETS)),
    st.sampled_from([(), ("adverse_driving",), ("short_haul_150",)]),
    st.sampled_from(["UTC", "America/New_York"]),
    st.sampled_from([datetime(2026, 1, 5).isoformat(), datetime(2026, 3, 5).isoformat()]),
)
def test_engine_agrees_with_a_minute_by_minute_reference(
    spec: list[tuple[str, int]], ruleset: str, exc: tuple[str, ...], tz: str, day: str
) -> None:
    start = datetime.fromisoformat(day + "+00:00")
    events, now = make(spec, start)
    r = evaluate(events, ruleset, exc, tz, now)
    expected, remaining = reference(spec, ruleset, exc, tz, start)
    got = engine_minutes(r, start)
    for rule, mins in expected.items():
        assert got.get(rule, set()) == mins, rule
    assert set(got) <= {rule for rule, mins in expected.items() if mins}
    assert r.remaining.drive_s == remaining["drive_s"]
    assert r.remaining.window_s == remaining["window_s"]
    assert r.remaining.break_s == remaining["break_s"]
    assert r.remaining.cycle_s == remaining["cycle_s"]
