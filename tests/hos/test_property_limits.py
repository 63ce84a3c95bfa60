"""Property-carrier daily limits: 11 h driving, 14 h window, 30-minute break, 10 h reset."""

from __future__ import annotations

from cloud.processors.hos import evaluate

from .helpers import H, T, build, rules, run, viol


def test_exactly_11_hours_driving_is_compliant() -> None:
    r = run(["ON 1", "D 8", "OFF 0:30", "D 3"])
    assert viol(r) == set()
    assert r.remaining.drive_s == 0
    assert r.remaining.window_s == 14 * H - (12 * H + 30 * 60)


def test_one_minute_over_11_hours_is_a_driving_11_violation() -> None:
    r = run(["ON 1", "D 8", "OFF 0:30", "D 3:01"])
    assert viol(r) == {("driving_11", T(12, 30), T(12, 31))}


def test_window_ends_14_hours_after_coming_on_duty() -> None:
    # GUIDE: on duty 06:00 => no driving after 20:00; off-duty time does not stop the clock
    ok = run(["OFF 6", "ON 3", "D 4", "OFF 3", "D 4"])
    assert viol(ok) == set()
    assert ok.remaining.window_s == 0
    late = run(["OFF 6", "ON 3", "D 4", "OFF 3", "D 4:01"])
    assert viol(late) == {("window_14", T(20), T(20, 1))}


def test_on_duty_after_the_14th_hour_is_not_a_violation() -> None:
    r = run(["ON 3", "D 8", "ON 6"])
    assert viol(r) == set()
    assert r.remaining.window_s == 0


def test_break_after_exactly_8_hours_of_driving_is_compliant() -> None:
    r = run(["D 8", "OFF 0:30", "D 1"])
    assert viol(r) == set()
    assert r.remaining.break_s == 7 * H


def test_driving_past_8_hours_without_a_break() -> None:
    r = run(["D 8:01", "OFF 0:30", "D 1"])
    assert viol(r) == {("break_30min", T(8), T(8, 1))}


def test_29_minute_interruption_does_not_count_as_a_break() -> None:
    r = run(["D 5", "OFF 0:29", "D 4"])
    assert viol(r) == {("break_30min", T(8, 29), T(9, 29))}


def test_break_counts_cumulative_not_consecutive_driving() -> None:
    # 20-minute stops are too short: the counter keeps running across them
    r = run(["D 3", "OFF 0:20", "D 3", "ON 0:20", "D 3"])
    assert viol(r) == {("break_30min", T(8, 40), T(9, 40))}


def test_on_duty_and_off_duty_combine_into_one_break() -> None:
    # GUIDE: 15 min on duty plus 15 min off duty, consecutive, is a valid break
    r = run(["D 6", "ON 0:15", "OFF 0:15", "D 4"])
    assert viol(r) == set()
    assert r.remaining.break_s == 4 * H


def test_break_clock_is_full_during_a_qualifying_break() -> None:
    assert run(["D 7", "OFF 0:30"]).remaining.break_s == 8 * H
    assert run(["D 7", "OFF 0:29"]).remaining.break_s == 1 * H


def test_exactly_10_hours_off_resets_drive_and_window() -> None:
    day1 = ["ON 1", "D 4", "OFF 0:30", "D 7"]  # 11 h driving, shift 06:00..
    r = run([*day1, "OFF 10", "D 1"])
    assert viol(r) == set()
    assert r.remaining.drive_s == 10 * H
    assert r.calculation_period.start == T(22, 30)


def test_one_minute_short_of_10_hours_off_does_not_reset() -> None:
    r = run(["ON 1", "D 4", "OFF 0:30", "D 7", "OFF 9:59", "D 1"])
    assert viol(r) == {
        ("driving_11", T(22, 29), T(23, 29)),
        ("window_14", T(22, 29), T(23, 29)),
    }


def test_clocks_are_full_while_in_a_10_hour_rest() -> None:
    r = run(["ON 1", "D 6", "OFF 10"])
    assert r.remaining.drive_s == 11 * H
    assert r.remaining.window_s == 14 * H
    assert r.calculation_period.start is None


def test_personal_conveyance_is_off_duty_time() -> None:
    # PC inside the 10-hour rest still resets, and PC movement is not driving
    r = run(["ON 1", "D 4", "OFF 0:30", "D 7", "OFF 4", "PC 1", "OFF 5", "D 1"])
    assert viol(r) == set()
    assert r.remaining.drive_s == 10 * H
    assert r.remaining.cycle_s == 70 * H - 13 * H  # PC hour not counted


def test_yard_moves_are_on_duty_never_driving() -> None:
    r = run(["YM 12", "D 1"])
    # 12 h of yard moves are not driving (no 11 h or break problem) but open the window
    assert viol(r) == set()
    assert r.remaining.drive_s == 10 * H
    assert r.remaining.window_s == 1 * H
    assert r.remaining.cycle_s == 70 * H - 13 * H
    assert rules(run(["YM 12", "D 3"])) == {"window_14"}


def test_yard_move_time_interrupts_driving_for_the_break() -> None:
    r = run(["D 6", "YM 0:30", "D 4"])
    assert viol(r) == set()


def test_driving_after_a_violation_keeps_being_reported_per_driving_run() -> None:
    r = run(["D 8", "OFF 0:30", "D 3:30", "ON 0:10", "D 0:20"])
    assert viol(r) == {
        ("driving_11", T(11, 30), T(12)),
        ("driving_11", T(12, 10), T(12, 30)),
    }


def test_time_until_first_limit_is_the_smallest_clock() -> None:
    r = run(["ON 2", "D 6"])
    assert r.remaining.break_s == 2 * H
    assert r.time_until_first_limit_s == 2 * H
    assert r.remaining.drive_s == 5 * H
    assert r.remaining.window_s == 6 * H


def test_no_events_means_full_clocks() -> None:
    r = evaluate([], "us_property_60_7", [], "UTC", T())
    assert r.violations == ()
    assert (r.remaining.drive_s, r.remaining.window_s) == (11 * H, 14 * H)
    assert (r.remaining.break_s, r.remaining.cycle_s) == (8 * H, 60 * H)


def test_events_after_now_are_outside_the_evaluation() -> None:
    events, end = build(["ON 1", "D 12"])
    early = evaluate(events, "us_property_70_8", [], "UTC", T(5))
    assert viol(early) == set()
    assert early.remaining.drive_s == 7 * H
    assert viol(evaluate(events, "us_property_70_8", [], "UTC", end)) != set()
