"""J1939 broadcast read back from a python-can virtual bus and decoded here with our
own minimal decoder (independent of the agent), and cross-checked with the CSS
Electronics J1939 demo DBC from the shared data via cantools."""

from __future__ import annotations

import time
from pathlib import Path

import can
import cantools
import pytest

from sim.runner import SimConfig, Simulator
from sim.vehicle import VehicleParams

from .conftest import shared_data_dir


def _pgn(arbitration_id: int) -> int:
    pf = (arbitration_id >> 16) & 0xFF
    pgn = (arbitration_id >> 8) & 0x3FF00
    return pgn if pf < 240 else pgn | ((arbitration_id >> 8) & 0xFF)


def _le(data: bytes, first: int, n: int) -> int:
    """Little-endian raw value of n bytes starting at byte ``first`` (1-based, as in J1939)."""
    return int.from_bytes(data[first - 1 : first - 1 + n], "little")


def _collect(bus: can.BusABC, seconds: float) -> list[can.Message]:
    out: list[can.Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = bus.recv(0.05)
        if msg is not None:
            out.append(msg)
    return out


def _drain(bus: can.BusABC) -> None:
    while bus.recv(0) is not None:
        pass


def _last(frames: list[can.Message], pgn: int) -> bytes:
    matching = [m for m in frames if m.is_extended_id and _pgn(m.arbitration_id) == pgn]
    assert matching, f"no PGN {pgn} frame"
    assert all(m.arbitration_id & 0xFF == 0x00 for m in matching)  # source address 0
    assert all(len(m.data) == 8 for m in matching)
    return bytes(matching[-1].data)


def _bam_payloads(frames: list[can.Message]) -> dict[int, bytes]:
    """Reassemble BAM transfers (TP.CM 60416 control 32 + TP.DT 60160)."""
    out: dict[int, bytes] = {}
    current: tuple[int, int, bytearray] | None = None
    for m in frames:
        pgn = _pgn(m.arbitration_id)
        data = bytes(m.data)
        if pgn == 60416 and data[0] == 32:
            current = (_le(data, 6, 3), _le(data, 2, 2), bytearray())
        elif pgn == 60160 and current is not None:
            current[2].extend(data[1:])
            if len(current[2]) >= current[1]:
                out[current[0]] = bytes(current[2][: current[1]])
                current = None
    return out


def test_idle_broadcast_encodes_the_state(short_route_file: Path, channel: str) -> None:
    bus = can.Bus(interface="virtual", channel=channel)
    config = SimConfig(
        route=str(short_route_file),
        speedup=20,
        idle_before_s=600,
        nmea="none",
        can_channel=channel,
        vin="1M8GDM9AXKP042788",
        vin_interval_wall_s=0.5,
        faults=["110:0:0", "3216:2:0"],
        params=VehicleParams(odometer_km=123_456.7, fuel_level_pct=50.0),
    )
    try:
        with Simulator(config) as sim:
            time.sleep(0.3)
            before = sim.state
            _drain(bus)
            frames = _collect(bus, 2.0)
            after = sim.state
    finally:
        bus.shutdown()
    assert before.phase == after.phase == "idle"

    eec1 = _last(frames, 61444)
    assert _le(eec1, 4, 2) * 0.125 == 650.0  # SPN 190 at idle, exactly
    ccvs = _last(frames, 65265)
    assert _le(ccvs, 2, 2) == 0  # SPN 84 standing still
    assert (ccvs[0] >> 2) & 0x3 == 1  # SPN 70 parking brake set while idling
    vd = _last(frames, 65248)
    assert _le(vd, 5, 4) == round(123_456.7 / 0.125)  # SPN 245
    hrvd = _last(frames, 65217)
    assert _le(hrvd, 1, 4) == round(123_456.7 * 1000 / 5)  # SPN 917
    et1 = _last(frames, 65262)
    assert round(before.coolant_c) <= et1[0] - 40 <= round(after.coolant_c)  # SPN 110
    hours = _last(frames, 65253)
    assert round(before.engine_hours / 0.05) <= _le(hours, 1, 4) <= round(after.engine_hours / 0.05)
    lfe = _last(frames, 65266)
    assert _le(lfe, 1, 2) * 0.05 == pytest.approx(after.fuel_rate_lph)  # SPN 183 idle flow
    lfc = _last(frames, 65257)
    assert round(before.fuel_used_l / 0.5) <= _le(lfc, 5, 4) <= round(after.fuel_used_l / 0.5)
    vep1 = _last(frames, 65271)
    assert _le(vep1, 5, 2) * 0.05 == pytest.approx(after.battery_v)  # SPN 168
    dd = _last(frames, 65276)
    assert dd[1] * 0.4 == pytest.approx(after.fuel_level_pct, abs=0.4)  # SPN 96
    for data in (ccvs, et1, dd):
        assert data[-1] == 0xFF  # unused bytes are "not available"

    payloads = _bam_payloads(frames)
    assert payloads[65260] == b"1M8GDM9AXKP042788*"  # VIN with its delimiter
    dm1 = payloads[65226]  # two DTCs do not fit one frame: DM1 comes by BAM
    assert dm1[0] >> 6 == 1  # MIL on
    dtcs = {
        (dm1[i] | dm1[i + 1] << 8 | (dm1[i + 2] >> 5) << 16, dm1[i + 2] & 0x1F)
        for i in range(2, len(dm1) - 3, 4)
    }
    assert dtcs == {(110, 0), (3216, 2)}


def test_moving_frames_match_the_final_state_and_the_dbc(
    short_route_file: Path, channel: str
) -> None:
    bus = can.Bus(interface="virtual", channel=channel)
    config = SimConfig(route=str(short_route_file), speedup=5, nmea="none", can_channel=channel)
    try:
        sim = Simulator(config)
        sim.start()
        history: list[tuple[float, float]] = []  # (wall time, speed km/h) while accelerating
        try:
            deadline = time.monotonic() + 10
            while sim.state.speed_kmh < 20 and time.monotonic() < deadline:
                history.append((time.monotonic(), sim.state.speed_kmh))
                time.sleep(0.01)
        finally:
            sim.stop()
        stopped_at = time.monotonic()
        final = sim.state
        frames = _collect(bus, 0.2)
    finally:
        bus.shutdown()
    assert final.speed_kmh >= 20 and final.rpm > 650
    # EEC1 goes out every tick, after the state of that tick is published.
    eec1 = _last(frames, 61444)
    assert _le(eec1, 4, 2) == round(final.rpm / 0.125)
    # CCVS goes out every 100 ms, so it carries a recent state; the speed only grows
    # while pulling away, which brackets it (the lower bound leaves a whole second of
    # slack, so a loaded machine that delays the simulator's thread does not matter).
    ccvs = _last(frames, 65265)
    earlier = max((v for t, v in history if t <= stopped_at - 1.0), default=0.0)
    assert round(earlier * 256) <= _le(ccvs, 2, 2) <= round(final.speed_kmh * 256)
    speeds = [_le(bytes(m.data), 2, 2) for m in frames if _pgn(m.arbitration_id) == 65265]
    assert speeds == sorted(speeds)
    assert (ccvs[0] >> 2) & 0x3 == 0  # parking brake released while driving

    db = cantools.database.load_file(
        shared_data_dir() / "dbc" / "CSS-Electronics-SAE-J1939-DEMO.dbc"
    )
    rpm = db.get_message_by_name("EEC1").decode(eec1)["EngineSpeed"]
    speed = db.get_message_by_name("CCVS1").decode(ccvs)["WheelBasedVehicleSpeed"]
    assert rpm == pytest.approx(final.rpm, abs=0.125)
    assert speed == pytest.approx(_le(ccvs, 2, 2) / 256, abs=1e-9)


def test_requests_are_answered_or_nacked(short_route_file: Path, channel: str) -> None:
    bus = can.Bus(interface="virtual", channel=channel)
    config = SimConfig(
        route=str(short_route_file),
        speedup=5,
        idle_before_s=60,
        nmea="none",
        can_channel=channel,
        vin_interval_wall_s=0,
    )
    try:
        with Simulator(config):
            _drain(bus)
            # Request (PGN 59904) from a tool at 0xF9 to the engine (DA 0x00): HOURS, VIN.
            for pgn in (65253, 65260, 65000):
                bus.send(
                    can.Message(
                        arbitration_id=0x18EA00F9,
                        data=pgn.to_bytes(3, "little"),
                        is_extended_id=True,
                    )
                )
            frames = _collect(bus, 1.5)
    finally:
        bus.shutdown()
    hours = _last(frames, 65253)
    assert _le(hours, 1, 4) * 0.05 == pytest.approx(2315.6, abs=0.1)
    assert _bam_payloads(frames)[65260] == b"1FVACWDU4BHBB1234*"
    acks = [bytes(m.data) for m in frames if _pgn(m.arbitration_id) == 59392]
    assert acks == [bytes([1, 0xFF, 0xFF, 0xFF, 0xF9]) + (65000).to_bytes(3, "little")]
