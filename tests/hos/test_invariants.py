"""Property-based invariants of the HOS engine (hypothesis, moderate example counts)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.processors.hos import RULESETS, STATUSES, DutyEvent, HosResult, evaluate

from .helpers import BASE

Spec = list[tuple[str, int]]
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

pieces = st.lists(
    st.tuples(
        st.sampled_from(STATUSES),
        st.one_of(
            st.integers(min_value=1, max_value=24).map(lambda n: n * 5),  # up to 2 h
            st.integers(min_value=1, max_value=32).map(lambda n: n * 30),  # up to 16 h
        ),
    ),
    min_size=1,
    max_size=40,
)
rulesets = st.sampled_from(sorted(RULESETS))
exception_sets = st.sampled_from([(), ("adverse_driving",), ("short_haul_150",)])
zones = st.sampled_from(["UTC", "America/New_York", "America/Los_Angeles"])


def make(spec: Spec, start: datetime = BASE) -> tuple[list[DutyEvent], datetime]:
    """Events for (status, minutes) pieces from ``start``; no history before it."""
    events = []
    t = start
    for status, minutes in spec:
        events.append(DutyEvent(t, status))
        t += timedelta(minutes=minutes)
    events[-1] = replace(events[-1], end=t)
    return events, t


def driving_spans(events: list[DutyEvent]) -> list[tuple[datetime, datetime]]:
    spans = []
    for i, e in enumerate(events):
        end = events[i + 1].start if i + 1 < len(events) else e.end
        if e.status != "driving":
            continue
        if spans and spans[-1][1] == e.start:  # consecutive driving events are one run
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((e.start, end))
    return spans


def _eval(
    events: list[DutyEvent], ruleset: str, exc: tuple[str, ...], tz: str, now: datetime
) -> HosResult:
    return evaluate(events, ruleset, exc, tz, now)


@SETTINGS
@given(pieces, rulesets, exception_sets, zones)
def test_remaining_clocks_are_never_negative(
    spec: Spec, ruleset: str, exc: tuple[str, ...], tz: str
) -> None:
    events, now = make(spec)
    r = _eval(events, ruleset, exc, tz, now)
    clocks = [r.remaining.drive_s, r.remaining.window_s, r.remaining.cycle_s]
    if r.remaining.break_s is not None:
        clocks.append(r.remaining.break_s)
        assert r.remaining.break_s <= 8 * 3600
    assert all(c >= 0 for c in clocks)
    assert r.time_until_first_limit_s == min(clocks)
    assert r.remaining.cycle_s <= (70 if ruleset.endswith("70_8") else 60) * 3600


@SETTINGS
@given(pieces, rulesets, exception_sets, zones)
def test_violations_lie_inside_driving(
    spec: Spec, ruleset: str, exc: tuple[str, ...], tz: str
) -> None:
    events, now = make(spec)
    r = _eval(events, ruleset, exc, tz, now)
    spans = driving_spans(events)
    for v in r.violations:
        assert v.start < v.end
        assert any(s <= v.start and v.end <= e for s, e in spans), v


def test_violations_lie_inside_driving_on_a_known_violation() -> None:
    """The property above, on a log that certainly has violations (12 h straight driving)."""
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    events = [DutyEvent(start, "driving", end=start + timedelta(hours=12))]
    r = evaluate(events, "us_property_70_8", (), "UTC", start + timedelta(hours=12))
    assert r.violations
    for v in r.violations:
        assert start <= v.start < v.end <= start + timedelta(hours=12)


@SETTINGS
@given(pieces, rulesets, exception_sets, zones, st.randoms(use_true_random=False))
def test_result_is_independent_of_input_order(
    spec: Spec, ruleset: str, exc: tuple[str, ...], tz: str, rnd: random.Random
) -> None:
    events, now = make(spec)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert _eval(shuffled, ruleset, exc, tz, now) == _eval(events, ruleset, exc, tz, now)


@SETTINGS
@given(pieces, rulesets, exception_sets, st.integers(min_value=1, max_value=60 * 60))
def test_adding_off_duty_time_at_the_end_never_creates_a_violation(
    spec: Spec, ruleset: str, exc: tuple[str, ...], off_minutes: int
) -> None:
    events, now = make(spec)
    before = _eval(events, ruleset, exc, "UTC", now)
    later = now + timedelta(minutes=off_minutes)
    if events[-1].status == "off_duty":
        extended = [*events[:-1], replace(events[-1], end=later)]
    else:
        extended = [*events[:-1], replace(events[-1], end=None), DutyEvent(now, "off_duty", later)]
    after = _eval(extended, ruleset, exc, "UTC", later)
    # The rest can pair with an earlier one or complete a full rest, which may replace a
    # violation by a shorter one (a different pairing); it can never add one.
    if not before.violations:
        assert not after.violations
    assert len(after.violations) <= len(before.violations)
    daily = {"driving_11", "window_14", "driving_10", "on_duty_15"}
    assert {v for v in after.violations if v.rule not in daily} == {
        v for v in before.violations if v.rule not in daily
    }
