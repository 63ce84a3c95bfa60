"""60/7 and 70/8 by carrier day, the 34-hour restart, and day boundaries across DST."""

from __future__ import annotations

from datetime import UTC, datetime

from cloud.processors.hos import evaluate

from .helpers import H, T, build, run, viol

FIVE_LONG_DAYS = ["ON 13", "D 1", "OFF 10"] * 4 + ["ON 13", "D 1"]  # 70 h on duty


def test_reaching_exactly_70_hours_is_compliant() -> None:
    r = run(FIVE_LONG_DAYS)
    assert viol(r) == set()
    assert r.remaining.cycle_s == 0


def test_driving_one_minute_past_70_hours() -> None:
    r = run([*FIVE_LONG_DAYS[:-1], "D 1:01"])
    # the 14th hour of that day ends at the same instant as the 70th hour of the cycle
    assert viol(r) == {
        ("cycle_70_8", T(14, d=4), T(14, 1, d=4)),
        ("window_14", T(14, d=4), T(14, 1, d=4)),
    }


def test_34_hours_off_restarts_the_cycle() -> None:
    r = run([*FIVE_LONG_DAYS, "OFF 34", "D 1"])
    assert viol(r) == set()
    assert r.remaining.cycle_s == 69 * H
    assert r.calculation_period.cycle_start == T(d=6)


def test_one_minute_short_of_34_hours_is_no_restart() -> None:
    r = run([*FIVE_LONG_DAYS, "OFF 33:59", "D 1"])
    assert viol(r) == {("cycle_70_8", T(23, 59, d=5), T(0, 59, d=6))}
    assert r.remaining.cycle_s == 0


def test_cycle_is_full_while_in_a_34_hour_rest() -> None:
    assert run([*FIVE_LONG_DAYS, "OFF 34"]).remaining.cycle_s == 70 * H
    assert run([*FIVE_LONG_DAYS, "OFF 33:59"]).remaining.cycle_s == 0


def test_on_duty_past_the_cycle_limit_is_not_a_violation() -> None:
    r = run([*FIVE_LONG_DAYS, "OFF 10", "ON 5"])
    assert viol(r) == set()


def test_guide_70_hour_table_rolls_off_by_day() -> None:
    # GUIDE §60/70: Sun 0, Mon 10, Tue 8.5, Wed 12.5, Thu 9, Fri 10, Sat 12, Sun 5, Mon 6,
    # Tue 0. Days 2-9 total 73 h: "in violation if you drove past the 70-hour mark during
    # the last 3 hours" (Monday's 3 driving hours); days 3-10 total 63 h.
    pieces = [
        "ON 9", "D 1", "OFF 14",  # Mon 10 (from 06:00)
        "ON 7:30", "D 1", "OFF 15:30",  # Tue 8.5
        "ON 11:30", "D 1", "OFF 11:30",  # Wed 12.5
        "ON 8", "D 1", "OFF 15",  # Thu 9
        "ON 9", "D 1", "OFF 14",  # Fri 10
        "ON 11", "D 1", "OFF 12",  # Sat 12
        "ON 4", "D 1", "OFF 19",  # Sun 5
        "ON 3", "D 3", "OFF 24",  # Mon 6, evaluated Tue 12:00
    ]  # fmt: skip
    events, end = build(pieces, start=T(6))
    assert end == T(12, d=8)
    r = evaluate(events, "us_property_70_8", [], "UTC", end)
    assert viol(r) == {("cycle_70_8", T(9, d=7), T(12, d=7))}
    assert r.remaining.cycle_s == 70 * H - 63 * H
    # at the end of day 8 (Sunday) days 1-8 hold 67 h
    sunday_night = evaluate(events, "us_property_70_8", [], "UTC", T(0, d=7))
    assert viol(sunday_night) == set()
    assert sunday_night.remaining.cycle_s == 3 * H


def test_60_7_counts_seven_days() -> None:
    # 12 h on each of Mon-Fri = 60 h: driving on Saturday breaks 60/7 but not 70/8;
    # on the next Monday the first Monday has rolled off
    week = ["ON 11", "D 1", "OFF 12"] * 5
    saturday = [*week, "ON 1", "D 1"]
    assert viol(run(saturday, ruleset="us_property_60_7")) == {("cycle_60_7", T(1, d=5), T(2, d=5))}
    assert viol(run(saturday, ruleset="us_property_70_8")) == set()
    monday = run([*saturday, "OFF 22", "ON 1", "OFF 23", "D 1"], ruleset="us_property_60_7")
    assert viol(monday) == {("cycle_60_7", T(1, d=5), T(2, d=5))}
    assert monday.remaining.cycle_s == 60 * H - 52 * H  # Tue-Fri 48 h + Sat 2 + Sun 1 + Mon 1


NY = "America/New_York"


def _dst_week(drive_start: str) -> tuple[list, datetime]:
    # on duty 13:00-23:00 EST (18:00Z-04:00Z) on local days Mar 2..7 2026 = 60 h
    pieces = ["ON 10", "OFF 14"] * 5 + ["ON 10", f"OFF {drive_start}", "D 1"]
    return build(pieces, start=datetime(2026, 3, 2, 18, tzinfo=UTC))


def test_cycle_days_follow_the_home_terminal_zone_across_dst() -> None:
    # DST starts 2026-03-08 02:00 local; local midnight of Mar 9 is 04:00Z (EDT), not 05:00Z.
    # Driving 03:30Z-04:30Z: until local midnight it is Mar 8 (Mar 2..8 = 60 h, violation);
    # from 04:00Z Mar 2 has rolled off.
    events, end = _dst_week("23:30")
    assert end == datetime(2026, 3, 9, 4, 30, tzinfo=UTC)
    r = evaluate(events, "us_property_60_7", [], NY, end)
    mar9 = datetime(2026, 3, 9, tzinfo=UTC)
    assert viol(r) == {("cycle_60_7", mar9.replace(hour=3, minute=30), mar9.replace(hour=4))}
    assert r.remaining.cycle_s == 9 * H  # Mar 3..7 50 h + 0.5 h on Mar 8 + 0.5 h on Mar 9


def test_the_same_week_in_utc_days_gives_a_different_answer() -> None:
    events, end = _dst_week("23:30")
    r = evaluate(events, "us_property_60_7", [], "UTC", end)
    assert viol(r) == set()
    assert r.remaining.cycle_s == 5 * H  # UTC Mar 3..9: 54 h before driving, +1 h


def test_passenger_cycle_has_no_34_hour_restart() -> None:
    days = ["ON 13", "D 1", "OFF 10"] * 4 + ["ON 13", "D 1", "OFF 40", "D 1"]
    assert viol(run(days, ruleset="us_property_70_8")) == set()
    r = run(days, ruleset="us_passenger_70_8")
    assert viol(r) == {("cycle_70_8", T(6, d=6), T(7, d=6))}
    assert r.calculation_period.cycle_start is None
