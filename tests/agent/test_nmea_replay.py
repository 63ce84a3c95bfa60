"""``fleetwire-agent replay-nmea``: the JSON-lines contract and its error handling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.replay_nmea import main, strip_comments

REQUIRED = {
    "time",
    "lat",
    "lon",
    "alt_m",
    "speed_mps",
    "course_deg",
    "mode",
    "quality",
    "sats",
    "hdop",
    "valid",
    "flags",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_prints_one_json_line_per_fix_and_a_summary(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_data / "nmea" / "ublox-neo-m9n-nmea.log"
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 61
    first = json.loads(lines[0])
    assert first.keys() >= REQUIRED
    assert first["time"] == "2020-07-11T22:37:45.000Z"
    assert (first["lat"], first["lon"]) == (38.110494, -122.626897)
    assert first["course_deg"] is None  # not reported while stationary: null, not 0
    assert (first["mode"], first["quality"], first["valid"]) == (3, 2, True)
    assert all(ISO.match(json.loads(line)["time"]) for line in lines)
    summary = err.strip().splitlines()
    assert len(summary) == 1
    assert "61 fixes (61 valid) from 1403 sentences" in summary[0]


def test_summary_counts_rejects_by_reason(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_data / "nmea" / "gp-320fw-2019-04-07-coldboot.log"
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert all(json.loads(line)["time"].startswith("2019-04-07") for line in out.splitlines())
    assert re.search(r"bad_checksum=\d+", err)
    assert re.search(r"truncated=\d+", err)


def test_comment_lines_are_skipped_but_binary_is_left_to_the_framer() -> None:
    data = b"# Name: test\r\n# $GPGGA,in,a,comment*00\n$GPTXT,hi*00\r\n\x00\n#\xff\xfe binary\n"
    assert strip_comments(data) == b"$GPTXT,hi*00\r\n\x00\n#\xff\xfe binary\n"


def test_missing_file_is_one_clear_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nope.nmea")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "cannot read" in err and "nope.nmea" in err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "fleetwire-agent replay-nmea" in capsys.readouterr().out


def test_date_floor_option_corrects_rollover_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "GPRMC,000425.00,A,4808.9993,N,01135.0798,E,0.1,0.0,220899,,,A"
    cs = 0
    for ch in body.encode():
        cs ^= ch
    capture = tmp_path / "rollover.nmea"
    capture.write_bytes(f"${body}*{cs:02X}\r\n".encode())
    assert main([str(capture), "--date-floor", "2019-01-01"]) == 0
    fix = json.loads(capsys.readouterr().out)
    assert fix["time"] == "2019-04-07T00:04:25.000Z"
    assert fix["time_corrected_weeks"] == 1024
