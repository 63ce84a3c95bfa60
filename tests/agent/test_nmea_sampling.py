"""Teltonika-style sampling: which fixes become records, moving and stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.decode.nmea import decode_bytes
from agent.decode.nmea_epoch import ClockParams
from agent.errors import ConfigError
from agent.model import Position
from agent.replay_nmea import strip_comments
from agent.stages.quality import QualityChecker
from agent.stages.sampling import (
    MotionRules,
    Sampler,
    SamplingConfig,
    heading_change_deg,
)

T0 = 1_700_000_000_000
DEG_LAT_M = 111_195.0  # metres per degree of latitude


def fix(
    t_s: float,
    *,
    north_m: float = 0.0,
    speed: float = 15.0,
    course: float = 0.0,
    flags: list[str] | None = None,
) -> Position:
    data: dict[str, Any] = {
        "lat": 47.0 + north_m / DEG_LAT_M,
        "lon": 8.0,
        "speed_mps": speed,
        "course_deg": course,
        "valid": True,
        "flags": flags or [],
    }
    return Position(T0 + int(t_s * 1000), data)


def only(**rules: float) -> MotionRules:
    """Moving rules with every trigger off except the given ones."""
    base = {"min_period_s": 1.0, "max_period_s": 0.0}
    return MotionRules(**{**base, **rules})


def test_heading_wrap_359_to_1_is_a_2_degree_change() -> None:
    assert heading_change_deg(359.0, 1.0) == pytest.approx(2.0)
    assert heading_change_deg(1.0, 359.0) == pytest.approx(2.0)
    assert heading_change_deg(90.0, 270.0) == pytest.approx(180.0)
    sampler = Sampler(SamplingConfig(moving=only(min_heading_deg=5.0)))
    assert sampler.accept(fix(0, course=359.0))
    assert not sampler.accept(fix(1, course=1.0))  # 2 deg: below the 5 deg threshold
    assert not sampler.accept(fix(2, course=3.0))  # 4 deg from the last record
    assert sampler.accept(fix(3, course=5.0))  # 6 deg across north
    assert sampler.reasons == {"first": 1, "heading": 1}


def test_min_distance_counts_from_the_last_record() -> None:
    sampler = Sampler(SamplingConfig(moving=only(min_distance_m=100.0)))
    kept = [sampler.accept(fix(t, north_m=30.0 * t)) for t in range(10)]
    # 30 m per second: records at 0, 120 m, 240 m (every 4th second).
    assert kept == [True, False, False, False, True, False, False, False, True, False]


def test_stationary_heartbeat() -> None:
    cfg = SamplingConfig(stopped=MotionRules(min_period_s=10.0, max_period_s=60.0))
    sampler = Sampler(cfg)
    kept = [t for t in range(0, 200) if sampler.accept(fix(t, speed=0.0, course=float(t)))]
    assert kept == [0, 60, 120, 180]  # parked: heading noise does not count


def test_moving_and_stopping_are_recorded_at_once() -> None:
    sampler = Sampler(SamplingConfig(moving=only(), stopped=only()))
    speeds = [0.0, 0.5, 2.5, 3.0, 1.5, 0.5, 0.4, 1.5, 2.1]
    kept = [sampler.accept(fix(t, speed=v)) for t, v in enumerate(speeds)]
    # Hysteresis: start at >= 2.0 m/s, stop below 1.0 m/s.
    assert kept == [True, False, True, False, False, True, False, False, True]


def test_speed_change_and_rate_limit() -> None:
    cfg = SamplingConfig(moving=only(min_speed_change_mps=3.0, min_period_s=5.0))
    sampler = Sampler(cfg)
    speeds = [10.0, 14.0, 14.0, 14.0, 14.0, 14.0, 18.0, 18.0]
    kept = [t for t, v in enumerate(speeds) if sampler.accept(fix(t, speed=v))]
    # The change at t=1 waits for the 5 s rate limit; the one at t=6 would need t>=10.
    assert kept == [0, 5]


def test_flagged_fixes_only_count_for_the_period() -> None:
    sampler = Sampler(SamplingConfig(moving=only(min_distance_m=50.0, max_period_s=30.0)))
    assert sampler.accept(fix(0))
    # A jump of 5 km: flagged by the quality stage, so no distance record.
    assert not sampler.accept(fix(1, north_m=5000.0, flags=["jump"]))
    assert sampler.accept(fix(2, north_m=60.0))
    assert sampler.accept(fix(40, north_m=60.0, flags=["no_fix"]))  # period


def test_from_dict_reads_nested_rules_and_rejects_unknown_keys() -> None:
    cfg = SamplingConfig.from_dict(
        {"moving": {"min_distance_m": 150}, "stopped": {"max_period_s": 600}, "stop_speed_mps": 0.5}
    )
    assert cfg.moving.min_distance_m == 150.0
    assert cfg.moving.min_heading_deg == SamplingConfig().moving.min_heading_deg
    assert cfg.stopped.max_period_s == 600.0
    assert cfg.stop_speed_mps == 0.5
    with pytest.raises(ConfigError, match=r"unknown sampling setting 'heartbeat'"):
        SamplingConfig.from_dict({"heartbeat": 300})
    with pytest.raises(ConfigError, match=r"sampling\.moving\.min_distance"):
        SamplingConfig.from_dict({"moving": {"min_distance": 100}})
    with pytest.raises(ConfigError, match=r"sampling\.stopped\.max_period_s must be a number"):
        SamplingConfig.from_dict({"stopped": {"max_period_s": "5m"}})
    with pytest.raises(ConfigError, match="must not exceed"):
        SamplingConfig.from_dict({"stop_speed_mps": 5.0})


def test_defaults_thin_a_real_moving_track(shared_data: Path) -> None:
    raw = (shared_data / "nmea" / "haicom-305N.log").read_bytes()
    fixes, _ = decode_bytes(strip_comments(raw), clock=ClockParams(date_floor=None))
    quality, sampler = QualityChecker(), Sampler()
    kept = [f for f in fixes if sampler.accept(quality.mark(f))]
    assert 1 < len(kept) < len(fixes) // 2
    assert kept[0].time_ms == fixes[0].time_ms
