"""replay-can CLI over the real captures: JSON lines on stdout, skip summary on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.replay_can import iso_utc, main

TRACTOR = "css_FCBF0606_JD6130_tractor_j1939.candump.log"
TRUCK = "css_11111111_j1939_heavy_duty_first30s.candump.log"
CAR = "css_7512BE4D_obd2_car.candump.log"
ASC = "python-can_logfile.asc"
KEYS = {"time", "kind", "name", "value", "unit", "source"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        assert line.keys() >= KEYS, line
        assert line["time"].endswith("Z") and line["kind"] in ("signal", "event")
    return rc, lines, err


def values(lines: list[dict[str, Any]], name: str) -> list[Any]:
    return [x["value"] for x in lines if x["kind"] == "signal" and x["name"] == name]


def test_tractor(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = run(capsys, str(shared_data / "can" / TRACTOR))
    assert rc == 0
    assert values(lines, "Vehicle.Powertrain.CombustionEngine.EngineHours") == [219.2]
    assert set(values(lines, "Vehicle.Powertrain.CombustionEngine.ECT")) == {85.0, 86.0}
    assert values(lines, "Vehicle.VehicleIdentification.VIN") == ["1L06130RELP969468"]
    hours = next(x for x in lines if x["name"].endswith("EngineHours"))
    assert hours["unit"] == "h" and hours["source"] == "j1939:sa=0x00"
    assert not [x for x in lines if x["kind"] == "event"]  # engine never ran
    assert "unknown pgn 797" in err


def test_truck(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = run(capsys, str(shared_data / "can" / TRUCK))
    assert rc == 0
    assert values(lines, "Vehicle.TraveledDistance") == [13832.875]
    rpm = values(lines, "Vehicle.Powertrain.CombustionEngine.Speed")
    assert min(rpm) > 640 and max(rpm) < 660
    events = [x for x in lines if x["kind"] == "event"]
    assert [e["name"] for e in events].count("dtc_new") == 4
    faults = {
        (e["value"]["fault"]["spn"], e["value"]["fault"]["fmi"])
        for e in events
        if e["name"] == "dtc_new"
    }
    assert faults == {(980, 9), (3216, 20), (609, 9), (609, 12)}
    assert all(e["lane"] == "fault" for e in events if e["name"] == "dtc_new")
    on = next(e for e in events if e["name"] == "ignition_on")
    assert on["time"] == iso_utc(1635188455029)  # first EEC1 frame, already idling
    # DM1 arrives once per second but only changes are printed
    assert len(values(lines, "Vehicle.Diagnostics.ActiveFaults")) == 1
    assert "non-j1939 11-bit traffic 1850" in err


def test_car(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = run(capsys, str(shared_data / "can" / CAR))
    assert rc == 0
    assert values(lines, "Vehicle.VehicleIdentification.VIN") == ["TMBJP7NX5NY084923"]
    rpm = values(lines, "Vehicle.Powertrain.CombustionEngine.Speed")
    assert (min(rpm), max(rpm)) == (0.0, 2957.25)
    speed = values(lines, "Vehicle.Speed")
    assert (min(speed), max(speed)) == (0, 86)
    assert values(lines, "Vehicle.OBD.StoredDTCs") == [[]]
    assert {x["source"] for x in lines if x["kind"] == "signal"} == {"obd:7E8"}
    units = {x["name"]: x["unit"] for x in lines if x["kind"] == "signal"}
    assert units["Vehicle.Speed"] == "km/h"
    assert units["Vehicle.Powertrain.CombustionEngine.ECT"] == "°C"
    assert units["Vehicle.Powertrain.FuelSystem.FuelRate"] == "L/h"
    names = [x["name"] for x in lines if x["kind"] == "event"]
    assert "trip_start" in names and "ignition_on" in names
    assert "obd request 7651" in err


def test_asc_fixture_error_remote_fd_frames(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines, err = run(capsys, str(shared_data / "can" / ASC))
    assert rc == 0
    assert lines == []  # nothing in it is vehicle data
    for reason in ("error frame 4", "remote frame 4", "can-fd frame 2", "tp.dt without session 8"):
        assert reason in err
    assert "frames 20" in err


def test_dbc_option(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dbc = str(shared_data / "dbc" / "CSS-Electronics-SAE-J1939-DEMO.dbc")
    rc, lines, _ = run(capsys, str(shared_data / "can" / TRACTOR), "--dbc", dbc)
    assert rc == 0
    sources = {
        x["source"] for x in lines if x["name"] == "Vehicle.Powertrain.CombustionEngine.Speed"
    }
    assert sources == {"dbc:sa=0x00"}


def test_broken_and_truncated_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "cut.log"
    log.write_text(
        "(1.000000) can0 1CECFF00#2012000301CAFE00\n"  # DM1 BAM announced, 3 packets
        "(1.050000) can0 1CEBFF00#0143FFD403097E90\n"  # ... only the first arrives
        "this is not candump\n"
        "(1.100000) can0 0CF00400#F07D7D1405F0FFFF\n"
        "(1.200000) can0 0CF00400#F07D7D14\n"  # EEC1 cut to 4 bytes
    )
    rc, lines, err = run(capsys, str(log))
    assert rc == 0
    assert [x["value"] for x in lines if x["name"].endswith("Engine.Speed")] == [162.5]
    assert "unreadable log line 1" in err
    assert "truncated transfer 1" in err and "short j1939 frame 1" in err
    assert not values(lines, "Vehicle.Diagnostics.ActiveFaults")


def test_usage_errors(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing.log")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main([str(shared_data / "can" / TRACTOR), "--param", "idle_minutes=5"]) == 2
    assert "unknown detector parameter(s): idle_minutes" in capsys.readouterr().err
    bad = tmp_path / "x.dbc"
    bad.write_text("this is not a dbc")
    assert main([str(shared_data / "can" / TRACTOR), "--dbc", str(bad)]) == 2
    assert "DBC" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "example" in capsys.readouterr().out
