"""Quality marking: doubtful fixes are flagged with the check's name, never dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.decode.nmea import decode_bytes
from agent.decode.nmea_epoch import ClockParams
from agent.errors import ConfigError
from agent.model import Position
from agent.replay_nmea import strip_comments
from agent.stages.quality import QualityChecker, QualityParams, distance_m

T0 = 1_700_000_000_000


def fix(t_s: float, lat: float = 47.0, lon: float = 8.0, **extra: Any) -> Position:
    data = {"lat": lat, "lon": lon, "sats": 9, "hdop": 0.8, "mode": 3, "quality": 1}
    data["valid"] = True
    data.update(extra)
    return Position(T0 + int(t_s * 1000), data)


def test_good_fix_gets_an_empty_flag_list() -> None:
    marked = QualityChecker().mark(fix(0))
    assert marked.data["flags"] == []
    assert marked.data["lat"] == 47.0


def test_each_check_names_itself() -> None:
    q = QualityChecker(QualityParams(min_sats=5, max_hdop=4.0))
    assert q.mark(fix(1, valid=False, mode=0)).data["flags"] == ["no_fix"]
    assert q.mark(fix(2, sats=3)).data["flags"] == ["few_sats"]
    assert q.mark(fix(3, hdop=12.5)).data["flags"] == ["high_hdop"]
    assert q.mark(fix(4, lat=0.0, lon=0.0)).data["flags"] == ["zero_position"]
    assert q.counts == {"no_fix": 1, "few_sats": 1, "high_hdop": 1, "zero_position": 1}


def test_flags_set_upstream_are_kept() -> None:
    marked = QualityChecker().mark(fix(0, sats=2, flags=["bad_time"]))
    assert marked.data["flags"] == ["bad_time", "few_sats"]


def test_impossible_jump_is_flagged_and_the_track_continues() -> None:
    q = QualityChecker()
    assert q.mark(fix(0)).data["flags"] == []
    # 1 s later, 0.1 deg of latitude (11 km) further: 11 km/s is no truck.
    assert q.mark(fix(1, lat=47.1)).data["flags"] == ["jump"]
    # Back on the track: compared with the last good fix, not with the outlier.
    assert q.mark(fix(2, lat=47.0001)).data["flags"] == []


def test_a_wrong_reference_is_replaced_by_consistent_later_fixes() -> None:
    q = QualityChecker(QualityParams(reanchor_after=3))
    q.mark(fix(0, lat=10.0))  # outlier that arrived first
    flags = [q.mark(fix(t, lat=47.0 + t * 1e-5)).data["flags"] for t in range(1, 6)]
    assert flags == [["jump"], ["jump"], [], [], []]


def test_distance_is_haversine_in_metres() -> None:
    # One degree of latitude is about 111.2 km.
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(47.0, 8.0, 47.0, 8.0) == 0.0


def test_from_dict_rejects_unknown_and_bad_values() -> None:
    assert QualityParams.from_dict({"min_sats": 6}).min_sats == 6
    with pytest.raises(ConfigError, match="unknown quality setting 'max_hdopp'"):
        QualityParams.from_dict({"max_hdopp": 3})
    with pytest.raises(ConfigError, match="max_hdop"):
        QualityParams.from_dict({"max_hdop": "high"})


def test_real_cold_start_is_marked_not_dropped(shared_data: Path) -> None:
    raw = (shared_data / "nmea" / "gp-320fw-2019-04-07-coldboot.log").read_bytes()
    fixes, _ = decode_bytes(strip_comments(raw), clock=ClockParams(date_floor=None))
    q = QualityChecker()
    marked = [q.mark(f) for f in fixes]
    assert len(marked) == len(fixes)
    good = [m for m in marked if not m.data["flags"]]
    bad = [m for m in marked if "no_fix" in m.data["flags"]]
    assert len(good) == 2  # the two fixes before the reboot
    assert bad and all("zero_position" in m.data["flags"] for m in bad)
