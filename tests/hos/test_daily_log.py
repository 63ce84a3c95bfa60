"""daily_log: one home-terminal day of graph-grid segments and per-status totals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud.processors.hos import DutyEvent, HosInputError, daily_log

from .helpers import H, T, build


def test_segments_are_clipped_to_the_day_and_totalled() -> None:
    # day 0 22:00 driving into day 1, PC and yard moves kept as their own lines
    events, _ = build(["OFF 22", "D 4", "YM 1", "PC 0:30", "SB 8:30", "ON 2"])
    log = daily_log(events, date(2026, 1, 6), "UTC")
    assert [(s["status"], s["start"], s["end"]) for s in log["segments"]] == [
        ("driving", "2026-01-06T00:00:00Z", "2026-01-06T02:00:00Z"),
        ("yard_move", "2026-01-06T02:00:00Z", "2026-01-06T03:00:00Z"),
        ("personal_conveyance", "2026-01-06T03:00:00Z", "2026-01-06T03:30:00Z"),
        ("sleeper_berth", "2026-01-06T03:30:00Z", "2026-01-06T12:00:00Z"),
        ("on_duty", "2026-01-06T12:00:00Z", "2026-01-06T14:00:00Z"),
    ]
    assert log["totals_s"] == {
        "off_duty": 0,
        "sleeper_berth": 8 * H + 30 * 60,
        "driving": 2 * H,
        "on_duty": 2 * H,
        "personal_conveyance": 30 * 60,
        "yard_move": H,
    }
    # the last event has an end at 14:00: the rest of the day is not covered by any event
    assert log["unknown_s"] == 10 * H


def test_day_is_taken_in_the_home_terminal_zone() -> None:
    events, _ = build(["D 2", "OFF 30"])  # driving 00:00-02:00Z = 19:00-21:00 EST on Jan 4
    log = daily_log(events, date(2026, 1, 4), "America/New_York")
    assert log["start"] == "2026-01-04T05:00:00Z"
    assert log["totals_s"]["driving"] == 2 * H
    assert log["segments"][1]["start_local"] == "2026-01-04T19:00:00-05:00"


def test_dst_days_are_23_and_25_hours_long() -> None:
    events = [DutyEvent(datetime(2026, 3, 1, tzinfo=UTC), "off_duty", end=T(d=330))]
    spring = daily_log(events, date(2026, 3, 8), "America/New_York")
    fall = daily_log(events, date(2026, 11, 1), "America/New_York")
    assert spring["day_length_s"] == 23 * H and spring["totals_s"]["off_duty"] == 23 * H
    assert fall["day_length_s"] == 25 * H and fall["totals_s"]["off_duty"] == 25 * H
    assert spring["unknown_s"] == fall["unknown_s"] == 0


def test_open_last_event_runs_to_now_or_to_the_end_of_the_day() -> None:
    events = [DutyEvent(T(6), "on_duty"), DutyEvent(T(7), "driving")]
    assert daily_log(events, date(2026, 1, 5), "UTC", now=T(9))["totals_s"]["driving"] == 2 * H
    assert daily_log(events, date(2026, 1, 5), "UTC")["totals_s"]["driving"] == 17 * H


def test_daily_log_rejects_bad_input() -> None:
    with pytest.raises(HosInputError, match="unknown status"):
        daily_log([DutyEvent(T(0), "nap", end=T(1))], date(2026, 1, 5), "UTC")
    with pytest.raises(HosInputError, match="time zone"):
        daily_log([], date(2026, 1, 5), "Nowhere/Land")
    with pytest.raises(HosInputError, match=r"datetime\.date"):
        daily_log([], "2026-01-05", "UTC")  # type: ignore[arg-type]
