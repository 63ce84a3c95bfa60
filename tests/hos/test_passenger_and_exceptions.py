"""Passenger-carrier rules (395.5) and the adverse, short-haul and big-day exceptions."""

from __future__ import annotations

from .helpers import H, T, run, viol

P = "us_passenger_70_8"


def test_passenger_10_hours_driving_exactly_is_compliant() -> None:
    r = run(["D 10"], ruleset=P)
    assert viol(r) == set()  # no 30-minute break rule for passenger carriers
    assert r.remaining.drive_s == 0
    assert r.remaining.break_s is None
    assert "break_s" not in r.to_json()["remaining"]


def test_passenger_driving_past_10_hours() -> None:
    assert viol(run(["D 10:01"], ruleset=P)) == {("driving_10", T(10), T(10, 1))}


def test_passenger_15_hours_on_duty_counts_only_on_duty_time() -> None:
    assert viol(run(["ON 5", "D 10"], ruleset=P)) == set()
    assert viol(run(["ON 5:01", "D 10"], ruleset=P)) == {("on_duty_15", T(15), T(15, 1))}
    # 6 h off in the middle do not count (unlike the property 14-hour window)
    r = run(["ON 4", "OFF 6", "D 9"], ruleset=P)
    assert viol(r) == set()
    assert r.remaining.window_s == 2 * H
    assert viol(run(["ON 4", "OFF 6", "D 9"])) == {
        ("window_14", T(14), T(19)),
        ("break_30min", T(18), T(19)),
    }


def test_passenger_8_hours_off_resets() -> None:
    assert viol(run(["D 10", "OFF 8", "D 1"], ruleset=P)) == set()
    r = run(["D 10", "OFF 7:59", "D 1"], ruleset=P)
    assert viol(r) == {("driving_10", T(17, 59), T(18, 59))}


def test_passenger_sleeper_split_recalculates_from_the_first_period() -> None:
    # two sleeper periods of at least 2 h totalling 8 h
    r = run(["D 6", "SB 4", "D 4", "SB 4", "D 3"], ruleset=P)
    assert viol(r) == set()
    assert r.calculation_period.start == T(10)
    assert r.remaining.drive_s == 10 * H - 7 * H
    off = run(["D 6", "OFF 4", "D 4", "OFF 4", "D 3"], ruleset=P)
    assert viol(off) == {("driving_10", T(18), T(21))}


def test_passenger_60_7_ruleset() -> None:
    r = run(["ON 11", "D 1", "OFF 12"] * 5 + ["ON 1", "D 1"], ruleset="us_passenger_60_7")
    assert viol(r) == {("cycle_60_7", T(1, d=5), T(2, d=5))}


def test_adverse_driving_adds_two_hours_to_driving_and_window() -> None:
    pieces = ["ON 1", "D 8", "OFF 0:30", "D 5"]
    assert viol(run(pieces, exceptions=["adverse_driving"])) == set()
    assert viol(run(pieces)) == {
        ("driving_11", T(12, 30), T(14, 30)),
        ("window_14", T(14), T(14, 30)),
    }
    over = run(["ON 1", "D 8", "OFF 0:30", "D 5:01"], exceptions=["adverse_driving"])
    assert viol(over) == {("driving_11", T(14, 30), T(14, 31))}
    late = run(["ON 3", "D 8", "OFF 5", "D 0:01"], exceptions=["adverse_driving"])
    assert viol(late) == {("window_14", T(16), T(16, 1))}


def test_adverse_driving_for_passenger_carriers() -> None:
    assert viol(run(["ON 5", "D 12"], ruleset=P, exceptions=["adverse_driving"])) == set()
    r = run(["ON 5", "D 12:01"], ruleset=P, exceptions=["adverse_driving"])
    assert viol(r) == {("driving_10", T(17), T(17, 1)), ("on_duty_15", T(17), T(17, 1))}


def test_short_haul_has_no_break_rule_but_keeps_11_and_14() -> None:
    r = run(["D 11"], exceptions=["short_haul_150"])
    assert viol(r) == set()
    assert r.remaining.break_s is None
    assert viol(run(["D 11"])) == {("break_30min", T(8), T(11))}
    assert viol(run(["D 11:01"], exceptions=["short_haul_150"])) == {
        ("driving_11", T(11), T(11, 1))
    }


def test_big_day_extends_the_window_to_16_hours() -> None:
    pieces = ["ON 5", "D 6", "OFF 4:59", "D 0:01"]  # last minute of driving ends at 16:00
    assert viol(run(pieces, exceptions=["big_day_16"])) == set()
    assert viol(run(pieces)) == {("window_14", T(15, 59), T(16))}
    r = run(["ON 5", "D 6", "OFF 5", "D 0:01"], exceptions=["big_day_16"])
    assert viol(r) == {("window_14", T(16), T(16, 1))}
