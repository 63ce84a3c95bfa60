"""Invalid input raises HosInputError with a message naming the problem; order does not matter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cloud.processors.hos import DutyEvent, HosInputError, evaluate

from .helpers import BASE, T, build


def _eval(events: list[DutyEvent], **kw: object) -> object:
    args: dict[str, object] = {
        "ruleset": "us_property_70_8",
        "exceptions": [],
        "home_terminal_tz": "UTC",
        "now": T(10),
    }
    args.update(kw)
    return evaluate(events, **args)  # type: ignore[arg-type]


GOOD = [DutyEvent(T(0), "on_duty"), DutyEvent(T(1), "driving", end=T(10))]


@pytest.mark.parametrize(
    ("events", "kw", "message"),
    [
        ([DutyEvent(T(0), "napping", end=T(10))], {}, "unknown status 'napping'"),
        (GOOD, {"ruleset": "us_property_80_8"}, "unknown ruleset 'us_property_80_8'"),
        (GOOD, {"exceptions": ["oilfield"]}, "unknown exception 'oilfield'"),
        (GOOD, {"exceptions": "adverse_driving"}, "not a single string"),
        (GOOD, {"home_terminal_tz": "Mars/Olympus"}, "unknown home-terminal time zone"),
        (GOOD, {"now": datetime(2026, 1, 5, 10)}, "naive timestamp"),
        ([DutyEvent(datetime(2026, 1, 5), "driving", end=T(10))], {}, "naive timestamp"),
        ([DutyEvent(T(5), "driving", end=T(4))], {}, "before it starts"),
        (
            [DutyEvent(T(0), "on_duty"), DutyEvent(T(0), "driving", end=T(10))],
            {},
            "overlapping events",
        ),
        (
            [DutyEvent(T(0), "on_duty", end=T(2)), DutyEvent(T(1), "driving", end=T(10))],
            {},
            "overlapping events",
        ),
        (
            [DutyEvent(T(0), "on_duty", end=T(1)), DutyEvent(T(2), "driving", end=T(10))],
            {},
            "gap in events",
        ),
        ([DutyEvent(T(0), "driving", end=T(5))], {}, "before the evaluation time"),
        (GOOD, {"ruleset": "us_passenger_70_8", "exceptions": ["big_day_16"]}, "property"),
        (["driving"], {}, "not a DutyEvent"),
        ([DutyEvent(datetime(1, 1, 1, tzinfo=UTC), "driving", end=T(10))], {}, "outside the years"),
    ],
)
def test_invalid_input_is_rejected_with_a_clear_message(
    events: list[DutyEvent], kw: dict[str, object], message: str
) -> None:
    with pytest.raises(HosInputError, match=message):
        _eval(events, **kw)


def test_hos_input_error_is_a_value_error() -> None:
    assert issubclass(HosInputError, ValueError)


def test_a_late_event_inserted_in_the_middle_gives_the_same_result() -> None:
    # The complete day, built in order ...
    events, end = build(["ON 1", "D 5", "SB 8", "D 5", "OFF 2", "D 3"])
    complete = evaluate(events, "us_property_70_8", [], "UTC", end)
    # ... and the same day where the sleeper-berth event arrived last (edited in later).
    sleeper = next(e for e in events if e.status == "sleeper_berth")
    late = [e for e in events if e is not sleeper] + [sleeper]
    assert evaluate(late, "us_property_70_8", [], "UTC", end) == complete
    # Before it arrived the day looked different (driving straight through the rest).
    without = [e for e in events if e is not sleeper]
    assert evaluate(without, "us_property_70_8", [], "UTC", end) != complete


def test_input_order_does_not_matter() -> None:
    events, end = build(["ON 1", "D 4", "OFF 0:20", "D 5", "SB 7", "D 3", "OFF 3", "D 2"])
    expected = evaluate(events, "us_property_60_7", ["adverse_driving"], "America/Chicago", end)
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert evaluate(shuffled, "us_property_60_7", ["adverse_driving"], "America/Chicago", end) == (
        expected
    )


def test_timestamps_with_other_offsets_are_the_same_instants() -> None:
    events, end = build(["ON 1", "D 12"])
    est_zone = timezone(timedelta(hours=-5))
    est = [
        DutyEvent(
            e.start.astimezone(est_zone), e.status, e.end.astimezone(est_zone) if e.end else None
        )
        for e in events
    ]
    assert evaluate(est, "us_property_70_8", [], "UTC", end).to_json() == (
        evaluate(events, "us_property_70_8", [], "UTC", end).to_json()
    )


def test_sub_second_parts_are_truncated_to_whole_seconds() -> None:
    events = [
        DutyEvent(BASE, "driving"),
        DutyEvent(BASE + timedelta(hours=8, microseconds=400_000), "off_duty", end=T(9)),
    ]
    r = evaluate(events, "us_property_70_8", [], "UTC", T(9))
    assert r.violations == ()
    assert r.remaining.break_s == 8 * 3600
