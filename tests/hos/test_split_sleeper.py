"""Split sleeper berth, 395.1(g)(1): 7/3, 8/2, 7.5/2.5, invalid shapes and pairing choice."""

from __future__ import annotations

from .helpers import H, T, run, viol


def test_guide_split_sleeper_example_has_no_violations() -> None:
    # FMCSA driver's guide: B1 07-10 off, B2 15-22 SB, B3 (day 2) 05-09 SB, B4 14-24 SB.
    # Periods P1 00-15 excl. B1 (10 h drive, 12 h on), P2 10-05 excl. B2 (11 h, 12 h),
    # P3 22-14 excl. B3 (10.5 h, 12 h).
    day = [
        "D 5", "ON 2", "OFF 3", "D 5", "SB 7",  # day 1 00:00-22:00
        "D 6", "ON 1", "SB 4", "D 4:30", "ON 0:30", "SB 10",  # to day 2 24:00
    ]  # fmt: skip
    r = run(day)
    assert viol(r) == set()
    # without the split provision the window would have closed at 14:00 on day 1
    assert run(day[:6]).violations  # day 1 driving after B2 with no partner yet
    assert r.remaining.drive_s == 11 * H  # B4 is a full 10-hour rest


def test_unpaired_rest_is_not_assumed_to_pair_later() -> None:
    # The guide example evaluated at day 2 14:00, before B4: B3 has no partner yet, so the
    # trailing period 22:00-14:00 includes it and driving after 12:00 is outside 14 hours.
    day = ["D 5", "ON 2", "OFF 3", "D 5", "SB 7", "D 6", "ON 1", "SB 4", "D 4:30", "ON 0:30"]
    r = run(day)
    assert viol(r) == {("window_14", T(12, d=1), T(13, 30, d=1))}
    assert r.calculation_period.start == T(22)
    assert r.remaining.drive_s == 30 * 60
    assert r.remaining.window_s == 0
    # once B4 reaches 7 h in the sleeper it pairs with B3 and the violation disappears
    assert viol(run([*day, "SB 6:59"])) == {("window_14", T(12, d=1), T(13, 30, d=1))}
    assert viol(run([*day, "SB 7"])) == set()


def test_8_2_split_recalculates_from_the_end_of_the_first_period() -> None:
    r = run(["ON 1", "D 6", "SB 8", "D 5", "OFF 2", "D 3"])
    assert viol(r) == set()
    assert r.calculation_period.start == T(15)  # end of the 8-hour sleeper period
    assert len(r.calculation_period.split_pairs) == 1
    assert r.remaining.drive_s == 11 * H - 8 * H  # 5 h + 3 h since 15:00
    assert r.remaining.window_s == 14 * H - 10 * H  # 15:00 -> 01:00, nothing excluded


def test_split_counts_driving_on_both_sides_of_the_first_period() -> None:
    # 6 h + 5 h = 11 h exactly is fine; one minute more breaks the 11-hour limit
    assert viol(run(["ON 1", "D 6", "SB 8", "D 5", "OFF 2"])) == set()
    r = run(["ON 1", "D 6", "SB 8", "D 5:01", "OFF 2"])
    assert viol(r) == {("driving_11", T(20), T(20, 1))}


def test_7_3_split() -> None:
    r = run(["ON 1", "D 5", "SB 7", "D 5", "OFF 3", "D 1"])
    assert viol(r) == set()
    assert r.calculation_period.start == T(13)


def test_3_then_7_order_does_not_matter() -> None:
    # FAQ-2020 Q6: the short period may come first
    r = run(["ON 1", "D 5", "OFF 3", "D 5", "SB 7", "D 2"])
    assert viol(r) == set()
    assert r.calculation_period.start == T(9)
    assert r.remaining.drive_s == 11 * H - 7 * H
    # the 7 h period is not excluded from the new period until it pairs again
    assert r.remaining.window_s == 0
    late = run(["ON 1", "D 5", "OFF 3", "D 5", "SB 7", "D 2:01"])
    assert viol(late) == {("window_14", T(23), T(23, 1))}


def test_7_5_and_2_5_split() -> None:
    r = run(["ON 1", "D 5", "SB 7:30", "D 5", "OFF 2:30", "D 1"])
    assert viol(r) == set()
    assert r.calculation_period.start == T(13, 30)


def test_6_4_is_not_a_valid_split() -> None:
    r = run(["ON 1", "D 5", "SB 6", "D 5", "OFF 4", "D 1"])
    assert viol(r) == {("window_14", T(14), T(17)), ("window_14", T(21), T(22))}
    assert r.calculation_period.split_pairs == ()


def test_7_hours_off_duty_is_not_a_sleeper_period() -> None:
    r = run(["ON 1", "D 5", "OFF 7", "D 5", "OFF 3", "D 1"])
    assert viol(r) == {("window_14", T(14), T(18)), ("window_14", T(21), T(22))}


def test_short_periods_under_2_hours_do_not_pair() -> None:
    # the 8/2 shape below, but with 1 h 59 min off: no pair, so no exclusion and no recalculation
    r = run(["ON 1", "D 6", "SB 8", "D 5", "OFF 1:59", "D 3"])
    assert viol(r) == {
        ("window_14", T(15), T(20)),
        ("window_14", T(21, 59), T(0, 59, d=1)),
        ("driving_11", T(21, 59), T(0, 59, d=1)),
    }


def test_sum_below_10_hours_does_not_pair() -> None:
    r = run(["ON 1", "D 5", "SB 7", "D 5", "OFF 2:59", "D 1"])
    assert viol(r) == {("window_14", T(14), T(18)), ("window_14", T(20, 59), T(21, 59))}


def test_pairing_with_the_fewest_violations_is_chosen() -> None:
    # A = 3 h off before the 14th hour, B = 3 h off after it, C = 10 h sleeper (full rest).
    # (B, C) -- the nearest pairing -- leaves 14:00-15:00 outside the window; (A, C) excludes
    # A and extends the window to 17:00 with no violation, so (A, C) must be used (FAQ Q4).
    shift = ["ON 1", "D 3", "OFF 3", "D 5", "ON 2", "D 1", "OFF 3", "ON 1", "SB 10"]
    r = run(shift)
    assert viol(r) == set()
    r_open = run(shift[:-1])  # before the 10 h sleeper exists nothing can pair
    assert viol(r_open) == {("window_14", T(14), T(15))}


def test_chained_pairs_advance_the_calculation_point() -> None:
    # (B1, B2) then (B2, B3): the point moves to the end of B2
    r = run(["ON 1", "D 5", "OFF 3", "D 4", "SB 7", "D 5", "OFF 3", "D 2"])
    assert viol(r) == set()
    assert r.calculation_period.start == T(20)
    assert len(r.calculation_period.split_pairs) == 2
    assert r.remaining.drive_s == 11 * H - 7 * H


def test_ten_hour_rest_closes_a_pair_after_a_7_hour_sleeper_period() -> None:
    # FAQ-2020 Q8: 7 h SB, drive, then 10 h off; the 7 h period is excluded from the window
    r = run(["ON 1", "D 5", "SB 7", "D 5", "OFF 10"])
    assert viol(r) == set()
    assert viol(run(["ON 1", "D 5", "SB 7", "D 5"])) == {("window_14", T(14), T(18))}
