"""OBD-II decoding: PID scaling, DTC formatting, passive ISO-TP, and the real car capture."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import can
import pytest

from agent.decode import obd
from agent.decode.can_decoder import CanDecoder
from agent.decode.isotp_frames import IsoTpReassembler

CAR = "css_7512BE4D_obd2_car.candump.log"


def test_pid_scaling() -> None:
    assert obd.decode_response(bytes.fromhex("410C1AF8")) == [
        ("Vehicle.Powertrain.CombustionEngine.Speed", 1726.0, "rpm")
    ]
    assert obd.decode_response(bytes.fromhex("410D56")) == [("Vehicle.Speed", 86, "km/h")]
    assert obd.decode_response(bytes.fromhex("41057B")) == [
        ("Vehicle.Powertrain.CombustionEngine.ECT", 83, "°C")
    ]
    assert obd.decode_response(bytes.fromhex("41A600002710")) == [
        ("Vehicle.TraveledDistance", 1000.0, "km")
    ]
    assert obd.decode_response(bytes.fromhex("415E0190")) == [
        ("Vehicle.Powertrain.FuelSystem.FuelRate", 20.0, "L/h")
    ]
    assert obd.decode_response(bytes.fromhex("410183070000")) == [
        ("Vehicle.OBD.Status.IsMILOn", True, ""),
        ("Vehicle.OBD.Status.DTCCount", 3, ""),
    ]


def test_multi_pid_response() -> None:
    assert obd.decode_response(bytes.fromhex("410C1AF80D320528")) == [
        ("Vehicle.Powertrain.CombustionEngine.Speed", 1726.0, "rpm"),
        ("Vehicle.Speed", 50, "km/h"),
        ("Vehicle.Powertrain.CombustionEngine.ECT", 0, "°C"),
    ]
    # an unknown PID in the middle: what came before it is kept, the rest is counted
    with pytest.raises(obd.UnknownPid) as err:
        obd.decode_response(bytes.fromhex("410D32130305"))
    assert err.value.partial == [("Vehicle.Speed", 50, "km/h")]
    with pytest.raises(ValueError, match="PID 05 needs 1 bytes"):
        obd.decode_response(bytes.fromhex("410D3205"))


def test_supported_bitmap() -> None:
    assert obd.decode_supported(0x00, bytes.fromhex("BE1FA813")) == {
        0x01,
        0x03,
        0x04,
        0x05,
        0x06,
        0x07,
        0x0C,
        0x0D,
        0x0E,
        0x0F,
        0x10,
        0x11,
        0x13,
        0x15,
        0x1C,
        0x1F,
        0x20,
    }
    assert obd.decode_response(bytes.fromhex("412080000001")) == [
        (obd.SUPPORTED_PIDS, [0x21, 0x40], "")
    ]


@pytest.mark.parametrize(
    ("hi", "lo", "code"),
    [
        (0x03, 0x01, "P0301"),
        (0x41, 0x23, "C0123"),
        (0x92, 0x34, "B1234"),
        (0xC1, 0x00, "U0100"),
        (0x2F, 0xFF, "P2FFF"),
    ],
)
def test_dtc_letters(hi: int, lo: int, code: str) -> None:
    assert obd.format_dtc(hi, lo) == code


def test_dtc_modes() -> None:
    assert obd.decode_response(bytes.fromhex("43020301C100")) == [
        (
            "Vehicle.OBD.StoredDTCs",
            [{"code": "P0301", "kind": "stored"}, {"code": "U0100", "kind": "stored"}],
            "",
        )
    ]
    assert obd.decode_response(bytes.fromhex("4700")) == [("Vehicle.OBD.PendingDTCs", [], "")]
    assert obd.decode_response(bytes.fromhex("4A010420"))[0][1] == [
        {"code": "P0420", "kind": "permanent"}
    ]


def test_bad_responses_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="announces 2 codes"):
        obd.decode_response(bytes.fromhex("43020301"))
    with pytest.raises(ValueError, match="negative"):
        obd.decode_response(bytes.fromhex("7F0112"))
    with pytest.raises(obd.UnknownPid, match="PID 13"):
        obd.decode_response(bytes.fromhex("411303"))
    with pytest.raises(ValueError, match="needs 2 bytes"):
        obd.decode_response(bytes.fromhex("410C1A"))
    with pytest.raises(ValueError, match="empty"):
        obd.decode_response(b"")


def test_passive_isotp_reassembly_and_errors() -> None:
    r = IsoTpReassembler()
    assert r.feed(0x7E8, bytes.fromhex("04410C1AF8CCCCCC"), 0.0) == bytes.fromhex("410C1AF8")
    assert r.feed(0x7E8, bytes.fromhex("1014490201544D42"), 1.0) is None
    assert r.feed(0x7E0, bytes.fromhex("3000005555555555"), 1.01) is None  # flow control
    assert r.feed(0x7E8, b"\x21JP7NX5N", 1.02) is None
    done = r.feed(0x7E8, b"\x22Y084923", 1.03)
    assert done == b"\x49\x02\x01TMBJP7NX5NY084923"
    # consecutive frame with wrong sequence number, then one with no first frame
    r.feed(0x7E8, bytes.fromhex("1014490201544D42"), 2.0)
    assert r.feed(0x7E8, b"\x22AAAAAAA", 2.01) is None
    assert r.feed(0x7E8, b"\x21AAAAAAA", 2.02) is None
    # a first frame left open at the end counts as truncated
    r.feed(0x7E9, bytes.fromhex("1014490201544D42"), 3.0)
    r.flush()
    assert dict(r.skipped) == {
        "isotp sequence error": 1,
        "isotp consecutive frame without first": 1,
        "truncated transfer": 1,
    }


def test_car_capture_matches_ground_truth(shared_data: Path) -> None:
    gt = json.loads((shared_data / "ground_truth.json").read_text())["can"][CAR]
    dec = CanDecoder()
    values: dict[str, list[Any]] = defaultdict(list)
    sources = set()
    for msg in can.LogReader(str(shared_data / "can" / CAR)):
        for s in dec.feed(msg):
            values[s.name].append(s.value)
            sources.add(s.source)
    assert sources == {"obd:7E8"}
    pid_names = {
        "PID0C_rpm": "Vehicle.Powertrain.CombustionEngine.Speed",
        "PID0D_speed_kmh": "Vehicle.Speed",
        "PID05_coolant_C": "Vehicle.Powertrain.CombustionEngine.ECT",
        "PID11_throttle_pct": "Vehicle.OBD.ThrottlePosition",
        "PID2F_fuel_level_pct": "Vehicle.Powertrain.FuelSystem.RelativeLevel",
        "PID31_dist_since_clear_km": "Vehicle.OBD.DistanceSinceDTCClear",
        "PID42_module_voltage_V": "Vehicle.OBD.ControlModuleVoltage",
        "PID46_ambient_C": "Vehicle.Exterior.AirTemperature",
    }
    for key, name in pid_names.items():
        expected = gt["decoded"][key]
        assert len(values[name]) == expected["n"], key
        assert min(values[name]) == pytest.approx(expected["min"], abs=0.006), key
        assert max(values[name]) == pytest.approx(expected["max"], abs=0.006), key
    assert values["Vehicle.VehicleIdentification.VIN"] == ["TMBJP7NX5NY084923"]
    assert values["Vehicle.OBD.StoredDTCs"] == [[]]  # mode 03 answered "02 43 00"
    assert values["Vehicle.OBD.Status.DTCCount"] == [0]
    assert dec.skipped["obd request"] == gt["requests_7E0_tx"]
    # PIDs without a scaling here (13 15 1C 34 53 A4 …) are counted, not dropped silently
    assert dec.skipped["obd pid not decoded"] > 0
    assert "truncated transfer" not in dec.skipped
