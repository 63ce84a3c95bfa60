"""The NMEA decoder on the six real receiver captures, checked against ground_truth.json
(counts made independently with pynmea2 and a regex stream scan) and against gpsd's own
decoding of two of them (the ``.chk`` expected-output files)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agent.decode.nmea import decode_bytes
from agent.decode.nmea_epoch import ClockParams, iso_utc
from agent.model import Position
from agent.replay_nmea import strip_comments

CAPTURES = [
    "ublox-neo-m9n-nmea.log",
    "quectel-eg25-g.log",
    "telit-he910.log",
    "haicom-305N.log",
    "gp-320fw-2019-04-07-coldboot.log",
    "quectel-l76k-dual.log",
]


@pytest.fixture(scope="module")
def truth(shared_data: Path) -> dict[str, Any]:
    return json.loads((shared_data / "ground_truth.json").read_text())


def decode(shared_data: Path, name: str) -> tuple[list[Position], dict[str, Any]]:
    raw = (shared_data / "nmea" / name).read_bytes()
    # Replaying historic captures: no date floor (the floor is for live receivers).
    fixes, decoder = decode_bytes(
        strip_comments(raw), clock=ClockParams(date_floor=None), max_undated=10_000
    )
    return fixes, decoder.stats()


@pytest.mark.parametrize("name", CAPTURES)
def test_sentence_counts_match_the_stream_scan(
    shared_data: Path, truth: dict[str, Any], name: str
) -> None:
    scan = truth["nmea_stream_scan"][name]
    _, stats = decode(shared_data, name)
    assert stats["sentences"] == scan["stream_sentences_checksum_ok"]
    assert stats["by_type"] == scan["by_type"]
    # The scan counts every "$...*hh" whose checksum fails; the framer rejects those
    # as bad_checksum, or as too_long when they exceed the length limit first.
    rejects = stats["rejects"]
    assert (
        rejects.get("bad_checksum", 0) + rejects.get("too_long", 0) == scan["stream_checksum_bad"]
    )
    # Every checksum-valid sentence is either used or counted as ignored.
    assert (
        stats["used"]
        + sum(stats["ignored"].values())
        + rejects.get("bad_address", 0)
        + rejects.get("unsupported", 0)
        + rejects.get("parse_error", 0)
        == stats["sentences"]
    )


@pytest.mark.parametrize("name", CAPTURES)
def test_valid_fixes_match_ground_truth(
    shared_data: Path, truth: dict[str, Any], name: str
) -> None:
    line = truth["nmea_pynmea2_line_based"][name]
    fixes, stats = decode(shared_data, name)
    valid = [f for f in fixes if f.data["valid"]]
    # A valid fix per second with a valid RMC or a GGA with a fix (whichever the
    # receiver delivered intact more often; the l76k loses most GGA to line parsing).
    gga_fixes = sum(n for q, n in line["gga_fix_quality"].items() if q != "0")
    assert len(valid) == max(line["rmc"]["valid_A_with_pos_and_date"], gga_fixes)
    assert stats["valid_fixes"] == len(valid)
    for key in ("first_valid_rmc", "last_valid_rmc"):
        stamp, _, rest = line[key].partition(" ")
        clock, _, coords = rest.partition(" ")
        coords = coords.split(" ")[0]  # "lat,lon sog_kn=..."
        when = dt.datetime.fromisoformat(f"{stamp} {clock}")
        lat, lon = (float(v) for v in coords.split(",")[:2])
        want_ms = round(when.timestamp() * 1000)
        match = [f for f in valid if f.time_ms == want_ms]
        assert match, f"{name}: no valid fix at {when}"
        assert round(match[0].data["lat"], 6) == lat
        assert round(match[0].data["lon"], 6) == lon


def test_binary_interleaved_l76k_yields_all_130_epochs(shared_data: Path) -> None:
    fixes, stats = decode(shared_data, "quectel-l76k-dual.log")
    assert len(fixes) == 130
    assert all(f.data["valid"] and f.data["mode"] == 3 for f in fixes)
    seconds = [f.time_ms // 1000 for f in fixes]
    assert seconds == list(range(seconds[0], seconds[0] + 130))  # 1 Hz, none missing
    assert stats["skipped_bytes"] > 50_000  # the CASIC binary frames


def test_gp320fw_cold_boot_counts_damage_and_fixes_rollover_dates(shared_data: Path) -> None:
    fixes, stats = decode(shared_data, "gp-320fw-2019-04-07-coldboot.log")
    rejects = stats["rejects"]
    assert rejects["bad_checksum"] > 0
    assert rejects["truncated"] > 0
    assert rejects["bad_date"] > 0  # the 2006/2010 dates right after the reboot
    # The 1999-08-22 dates (GPS week 0 after the rollover) come back as 2019-04-07;
    # no fix carries a garbage date.
    real_day = dt.date(2019, 4, 7)
    days = {dt.datetime.fromtimestamp(f.time_ms / 1000, dt.UTC).date() for f in fixes}
    assert days == {real_day}
    corrected = [f for f in fixes if f.data.get("time_corrected_weeks") == 1024]
    assert corrected
    assert all(iso_utc(f.time_ms) > "2019-04-07T00:04" for f in corrected)


def _tod_s(field: str) -> int | None:
    if len(field) < 6 or not field[:6].isdigit():
        return None
    return int(field[0:2]) * 3600 + int(field[2:4]) * 60 + int(field[4:6])


_TIME_FIELD = {"RMC": 1, "GGA": 1, "GNS": 1, "GST": 1, "ZDA": 1, "GLL": 5}


@pytest.mark.parametrize("name", ["haicom-305N.log", "gp-320fw-2019-04-07-coldboot.log"])
def test_every_gpsd_fix_is_reproduced(shared_data: Path, name: str) -> None:
    """Every gpsd TPV with mode >= 2 has a fix of ours in the same second, same lat/lon.

    A TPV without a time (gpsd had no date yet) belongs to the second of the last timed
    sentence gpsd echoed before it."""
    fixes, _ = decode(shared_data, name)
    by_second: dict[int, list[Position]] = {}
    for f in fixes:
        by_second.setdefault(f.time_ms // 1000 % 86400, []).append(f)
    last_tod: int | None = None
    checked = 0
    chk = (shared_data / "nmea" / f"{name}.chk").read_text(encoding="latin-1")
    for line in chk.splitlines():
        if line.startswith("$"):
            fields = line.split("*")[0].split(",")
            idx = _TIME_FIELD.get(fields[0][3:])
            if idx is not None and len(fields) > idx:
                last_tod = _tod_s(fields[idx]) or last_tod
            continue
        if not line.startswith("{"):
            continue
        tpv = json.loads(line)
        if tpv.get("class") != "TPV" or tpv.get("mode", 0) < 2:
            continue
        second = _tod_s(tpv["time"][11:19].replace(":", "")) if "time" in tpv else last_tod
        assert second is not None
        candidates = [f for f in by_second.get(second, []) if f.data["lat"] is not None]
        assert any(
            abs(f.data["lat"] - tpv["lat"]) <= 1e-6 and abs(f.data["lon"] - tpv["lon"]) <= 1e-6
            for f in candidates
        ), f"gpsd fix at {second} s of day {tpv['lat']},{tpv['lon']} not reproduced"
        checked += 1
    assert checked >= 4
