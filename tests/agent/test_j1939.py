"""J1939 decoding: identifiers, transport reassembly, SPNs, DM1 — and the real captures."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import can
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.decode import j1939
from agent.decode.can_decoder import CanDecoder
from agent.model import Signal

TRACTOR = "css_FCBF0606_JD6130_tractor_j1939.candump.log"
TRUCK = "css_11111111_j1939_heavy_duty_first30s.candump.log"
DBC = "dbc/CSS-Electronics-SAE-J1939-DEMO.dbc"


def truth(shared_data: Path, name: str) -> dict[str, Any]:
    return json.loads((shared_data / "ground_truth.json").read_text())["can"][name]


def decode_file(path: Path, decoder: CanDecoder) -> list[Signal]:
    out: list[Signal] = []
    for msg in can.LogReader(str(path)):
        out.extend(decoder.feed(msg))
    decoder.flush()
    return out


def by_name(signals: list[Signal]) -> dict[tuple[str, str], list[Any]]:
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for s in signals:
        grouped[(s.name, s.source)].append(s.value)
    return grouped


# --- identifiers ---------------------------------------------------------------------


def test_parse_id_pdu2_and_pdu1() -> None:
    assert j1939.parse_id(0x0CF00400) == (3, 61444, 0x00, 0xFF)  # EEC1, PDU2
    assert j1939.parse_id(0x18FEF147) == (6, 65265, 0x47, 0xFF)  # CCVS from SA 0x47
    assert j1939.parse_id(0x1CECFF00) == (7, 60416, 0x00, 0xFF)  # TP.CM to global (PDU1)
    assert j1939.parse_id(0x18EA0017) == (6, 59904, 0x17, 0x00)  # request to SA 0x00
    assert j1939.parse_id(0x19FEF100) == (6, 0x1FEF1, 0x00, 0xFF)  # data page 1


# --- transport protocol ----------------------------------------------------------------


def _bam(pgn: int, payload: bytes, sa: int = 0x00) -> list[tuple[int, int, int, bytes]]:
    n = (len(payload) + 6) // 7
    cm = bytes(
        [
            0x20,
            len(payload) & 0xFF,
            len(payload) >> 8,
            n,
            0xFF,
            pgn & 0xFF,
            (pgn >> 8) & 0xFF,
            pgn >> 16,
        ]
    )
    frames = [(j1939.PGN_TP_CM, sa, 0xFF, cm)]
    for i in range(n):
        chunk = payload[7 * i : 7 * i + 7].ljust(7, b"\xff")
        frames.append((j1939.PGN_TP_DT, sa, 0xFF, bytes([i + 1]) + chunk))
    return frames


def test_bam_reassembles_and_trims_padding() -> None:
    tp = j1939.TransportReassembler()
    payload = bytes(range(18))
    results = [
        tp.feed(pgn, sa, da, data, 0.05 * i)
        for i, (pgn, sa, da, data) in enumerate(_bam(65226, payload))
    ]
    assert results[:-1] == [None, None, None]
    assert results[-1] == (65226, 0x00, 0xFF, payload)
    assert not tp.skipped


def test_bam_broken_transfers_are_counted() -> None:
    tp = j1939.TransportReassembler()
    frames = _bam(65260, b"1FUJGLDR5CLBP8834*" + b"x" * 10)
    # missing packet 2 -> sequence error
    for pgn, sa, da, data in frames[:2] + frames[3:]:
        assert tp.feed(pgn, sa, da, data, 0.0) is None
    # a new BAM while one is open -> the open one is truncated
    tp.feed(*frames[0][:4], 1.0)
    tp.feed(*frames[1][:4], 1.0)
    tp.feed(*frames[0][:4], 1.1)
    # data long after the last packet -> timed out
    assert tp.feed(*frames[1][:4], 5.0) is None
    # data without any announcement
    assert tp.feed(*frames[2][:4], 5.1) is None
    # inconsistent announcement
    bad = bytearray(frames[0][3])
    bad[3] = 9
    tp.feed(j1939.PGN_TP_CM, 0, 0xFF, bytes(bad), 6.0)
    tp.feed(*frames[0][:4], 7.0)
    assert tp.flush() == 1
    assert tp.skipped == Counter(
        {
            "tp sequence error": 1,
            "truncated transfer": 3,
            "tp.dt without session": 3,
            "tp.cm inconsistent size": 1,
        }
    )


def test_connection_mode_rts_cts_observed_passively() -> None:
    tp = j1939.TransportReassembler()
    payload = bytes(range(100, 120))  # 20 bytes, 3 packets
    rts = bytes([0x10, 20, 0, 3, 0xFF, 0xCA, 0xFE, 0x00])
    assert tp.feed(j1939.PGN_TP_CM, 0x00, 0xF9, rts, 0.0) is None
    cts = bytes([0x11, 2, 1, 0xFF, 0xFF, 0xCA, 0xFE, 0x00])
    tp.feed(j1939.PGN_TP_CM, 0xF9, 0x00, cts, 0.01)  # receiver paces
    tp.feed(j1939.PGN_TP_DT, 0x00, 0xF9, bytes([1]) + payload[0:7], 0.02)
    tp.feed(j1939.PGN_TP_DT, 0x00, 0xF9, bytes([2]) + payload[7:14], 0.03)
    tp.feed(j1939.PGN_TP_CM, 0xF9, 0x00, bytes([0x11, 1, 3, 0xFF, 0xFF, 0xCA, 0xFE, 0]), 0.9)
    done = tp.feed(j1939.PGN_TP_DT, 0x00, 0xF9, bytes([3]) + payload[14:] + b"\xff", 1.5)
    assert done == (65226, 0x00, 0xF9, payload)
    # an abort from the receiver drops the session
    tp.feed(j1939.PGN_TP_CM, 0x00, 0xF9, rts, 2.0)
    tp.feed(j1939.PGN_TP_CM, 0xF9, 0x00, bytes([0xFF, 1, 0xFF, 0xFF, 0xFF, 0xCA, 0xFE, 0]), 2.1)
    assert tp.feed(j1939.PGN_TP_DT, 0x00, 0xF9, bytes([1]) + payload[0:7], 2.2) is None
    assert tp.skipped == Counter({"transfer aborted": 1, "tp.dt without session": 1})


# --- SPNs ------------------------------------------------------------------------------


def test_spn_scaling_and_not_available() -> None:
    eec1 = bytes([0xF0, 0x7D, 0x84, 0x48, 0x14, 0x00, 0xF0, 0x84])
    assert j1939.decode_pgn(61444, 0, eec1) == [
        ("Vehicle.Powertrain.CombustionEngine.Speed", 0x1448 * 0.125, "rpm"),
        ("Vehicle.Powertrain.CombustionEngine.TorquePercent", 0x84 - 125, "%"),
    ]
    na = bytes([0xFF] * 8)
    assert [v for _, v, _ in j1939.decode_pgn(61444, 0, na)] == [None, None]
    err = bytes([0, 0, 0xFE, 0x00, 0xFE, 0, 0, 0])  # 0xFE00 > 0xFAFF: error indicator
    assert j1939.decode_pgn(61444, 0, err)[0][1] is None
    with pytest.raises(ValueError, match="needs 5 bytes"):
        j1939.decode_pgn(61444, 0, b"\x00\x00\x00")
    assert j1939.decode_pgn(0xFF00, 0, na) is None  # proprietary B: unknown
    ccvs = bytes([0b0000_0100, 0x00, 0x32, 0, 0, 0, 0, 0])  # brake engaged, 50 km/h
    assert j1939.decode_pgn(65265, 0, ccvs) == [
        ("Vehicle.Speed", 50.0, "km/h"),
        ("Vehicle.Chassis.ParkingBrake.IsEngaged", True, ""),
    ]


def test_dm1_lamps_and_faults() -> None:
    payload = bytes.fromhex("43FFD403097E900C14026102090161020C03")
    value = j1939.decode_dm1(payload, 0x00)
    assert value["lamps"] == {"mil": "on", "red_stop": "off", "amber": "off", "protect": "na"}
    assert value["faults"][0] == {"spn": 980, "fmi": 9, "oc": 126, "sa": 0}
    flashing = j1939.decode_dm1(bytes([0b0101_0100, 0b1111_0100, 0, 0, 0, 0]), 0x03)
    assert flashing == {
        "lamps": {"protect": "off", "amber": "flash_fast", "red_stop": "on", "mil": "on"},
        "faults": [],
    }
    # 19-bit SPN: the top 3 bits live in byte 3
    high = j1939.decode_dm1(bytes([0x04, 0xFF, 0x00, 0x02, 0xE5, 0x01]), 0x00)
    assert high["faults"] == [{"spn": 0x70200, "fmi": 5, "oc": 1, "sa": 0}]


def test_vin_field_stops_at_terminator_or_non_vin_bytes() -> None:
    assert j1939.decode_vin(b"1FUJGLDR5CLBP8834*") == "1FUJGLDR5CLBP8834"
    assert j1939.decode_vin(bytes.fromhex("314C303631333052454C503936393436383E2C05")) == (
        "1L06130RELP969468"
    )
    assert j1939.decode_vin(b"*") is None


# --- real captures -------------------------------------------------------------------------


def test_tractor_capture_matches_ground_truth(shared_data: Path) -> None:
    gt = truth(shared_data, TRACTOR)
    dec = CanDecoder()
    sig = by_name(decode_file(shared_data / "can" / TRACTOR, dec))
    src0 = "j1939:sa=0x00"
    checks = {
        "EEC1_SPN190_engine_speed_rpm_SA00": ("Vehicle.Powertrain.CombustionEngine.Speed", src0),
        "CCVS_SPN84_wheel_speed_kmh_SA47": ("Vehicle.Speed", "j1939:sa=0x47"),
        "ET1_SPN110_coolant_C_SA00": ("Vehicle.Powertrain.CombustionEngine.ECT", src0),
        "HOURS_SPN247_engine_hours_h_SA00": (
            "Vehicle.Powertrain.CombustionEngine.EngineHours",
            src0,
        ),
        "LFE_SPN183_fuel_rate_Lph_SA00": ("Vehicle.Powertrain.FuelSystem.FuelRate", src0),
    }
    for key, name in checks.items():
        values = sig[name]
        assert len(values) == gt["decoded"][key]["n"], key
        assert min(values) == pytest.approx(gt["decoded"][key]["min"]), key
        assert max(values) == pytest.approx(gt["decoded"][key]["max"]), key
    vin_payload = bytes.fromhex(gt["tp_bam"]["PGN65260_payload_hex"])
    assert sig[("Vehicle.VehicleIdentification.VIN", src0)] == [j1939.decode_vin(vin_payload)] * 3
    assert sig[("Vehicle.VehicleIdentification.VIN", src0)][0] == "1L06130RELP969468"
    # every BAM reassembled: nothing truncated; EC1 (65251) is counted as unknown
    assert "truncated transfer" not in dec.skipped
    assert dec.frames == gt["frames"]
    known = sum(gt["pgn_counts"][str(p)] for p in (61443, 61444, 65253, 65262, 65265, 65266))
    tp_frames = gt["pgn_counts"]["60160"] + gt["pgn_counts"]["60416"]
    assert dec.skipped["unknown pgn"] == gt["frames"] - known - tp_frames + 13


def test_truck_capture_matches_ground_truth(shared_data: Path) -> None:
    gt = truth(shared_data, TRUCK)
    dec = CanDecoder()
    sig = by_name(decode_file(shared_data / "can" / TRUCK, dec))
    src0 = "j1939:sa=0x00"
    checks = {
        "EEC1_SPN190_engine_speed_rpm_SA00": "Vehicle.Powertrain.CombustionEngine.Speed",
        "CCVS_SPN84_wheel_speed_kmh_SA00_id_0CFEF100": "Vehicle.Speed",
        "ET1_SPN110_coolant_C_SA00": "Vehicle.Powertrain.CombustionEngine.ECT",
        "LFE_SPN183_fuel_rate_Lph_SA00": "Vehicle.Powertrain.FuelSystem.FuelRate",
        "VD_SPN245_total_distance_km_SA00": "Vehicle.TraveledDistance",
    }
    for key, name in checks.items():
        values = sig[(name, src0)]
        assert len(values) == gt["decoded"][key]["n"], key
        assert min(values) == pytest.approx(gt["decoded"][key]["min"]), key
        assert max(values) == pytest.approx(gt["decoded"][key]["max"]), key
    dm1 = sig[("Vehicle.Diagnostics.ActiveFaults", src0)]
    assert len(dm1) == gt["tp_bam"]["sessions_TP.CM_BAM"]["PGN65226_DM1_SA00"]
    expected = [
        {"spn": s, "fmi": f, "oc": o, "sa": 0} for s, f, o in gt["tp_bam"]["DM1_dtcs_spn_fmi_oc"]
    ]
    assert all(v["faults"] == expected for v in dm1)
    assert dm1[0]["lamps"] == {"mil": "on", "red_stop": "off", "amber": "off", "protect": "na"}
    # the proprietary 11-bit traffic on can1 is counted, never decoded
    assert dec.skipped["non-j1939 11-bit traffic"] == gt["standard"]
    assert "truncated transfer" not in dec.skipped


def test_dbc_signals_named_by_spn_and_not_duplicated(shared_data: Path) -> None:
    dec = CanDecoder([str(shared_data / DBC)])
    sig = by_name(decode_file(shared_data / "can" / TRUCK, dec))
    rpm_dbc = sig[("Vehicle.Powertrain.CombustionEngine.Speed", "dbc:sa=0x00")]
    assert len(rpm_dbc) == 2999 and min(rpm_dbc) == 646.75
    # the built-in decoder does not emit the same name for a PGN the DBC covers
    assert ("Vehicle.Powertrain.CombustionEngine.Speed", "j1939:sa=0x00") not in sig
    assert ("Vehicle.Powertrain.CombustionEngine.TorquePercent", "j1939:sa=0x00") in sig
    assert set(sig[("Vehicle.Speed", "dbc:sa=0x00")]) == {0.0}


def test_dbc_for_11bit_ids(shared_data: Path, tmp_path: Path) -> None:
    dbc = tmp_path / "prop.dbc"
    dbc.write_text(
        'VERSION ""\n\nNS_ :\n\nBS_:\n\nBU_:\n\n'
        "BO_ 9 Prop009: 8 Vector__XXX\n"
        ' SG_ Counter : 0|8@1+ (1,0) [0|255] "" Vector__XXX\n'
    )
    dec = CanDecoder([str(dbc)])
    sig = by_name(decode_file(shared_data / "can" / TRUCK, dec))
    assert len(sig[("DBC.Prop009.Counter", "dbc:009")]) == 1698
    assert dec.skipped["non-j1939 11-bit traffic"] == 1850 - 1698


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.booleans(),
            st.integers(0, 0x1FFFFFFF),
            st.binary(min_size=0, max_size=8),
            st.sampled_from([0x0CF00400, 0x18FEF100, 0x1CECFF00, 0x1CEBFF00, 0x7E8, None]),
        ),
        max_size=40,
    )
)
def test_any_frame_is_decoded_counted_or_held(frames: list[Any]) -> None:
    """Garbage never crashes the decoder and never disappears without a trace."""
    dec = CanDecoder()
    for i, (extended, raw_id, data, known_id) in enumerate(frames):
        aid = known_id if known_id is not None else raw_id
        ext = aid > 0x7FF or (extended and known_id is None)
        msg = can.Message(
            timestamp=1.0 + i * 0.01, arbitration_id=aid, data=data, is_extended_id=ext
        )
        before = sum(dec.skipped.values())
        out = dec.feed(msg)
        for s in out:
            assert isinstance(s, Signal) and s.name and isinstance(s.source, str)
        held = (
            (ext and j1939.parse_id(aid)[1] in (j1939.PGN_TP_CM, j1939.PGN_TP_DT))
            or (not ext and 0x7E8 <= aid <= 0x7EF)
            or (ext and aid & 0x1FFFFF00 == 0x18DAF100)
        )
        assert out or sum(dec.skipped.values()) > before or held, msg
