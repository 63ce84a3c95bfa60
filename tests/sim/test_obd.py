"""The OBD-II ECU answered by a can-isotp tester on a python-can virtual bus
(ISO 15765-4, 11-bit: physical 7E0 → 7E8, functional 7DF)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import can
import isotp
import pytest

from sim.runner import SimConfig, Simulator

VIN = "1M8GDM9AXKP042788"


@pytest.fixture
def obd_sim(short_route_file: Path, channel: str) -> Iterator[tuple[Simulator, can.BusABC]]:
    bus = can.Bus(interface="virtual", channel=channel)
    config = SimConfig(
        route=str(short_route_file),
        speedup=5,
        idle_before_s=300,
        nmea="none",
        can_channel=channel,
        j1939=False,
        obd=True,
        vin=VIN,
        faults=["P0217:0", "P0301:5000"],
    )
    sim = Simulator(config)
    sim.start()
    try:
        yield sim, bus
    finally:
        sim.stop()
        bus.shutdown()


def _tester(bus: can.BusABC) -> isotp.CanStack:
    stack = isotp.CanStack(
        bus,
        address=isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7E0, rxid=0x7E8),
        params={"tx_padding": 0xAA, "tx_data_min_length": 8, "blocksize": 0, "stmin": 0},
    )
    stack.start()
    return stack


def _ask(stack: isotp.CanStack, request: bytes) -> bytes:
    stack.send(request)
    reply = stack.recv(block=True, timeout=3.0)
    assert reply is not None, f"no answer to {request.hex()}"
    return bytes(reply)


def test_physical_requests_rpm_vin_and_dtcs(obd_sim: tuple[Simulator, can.BusABC]) -> None:
    sim, bus = obd_sim
    stack = _tester(bus)
    try:
        rpm = _ask(stack, bytes([0x01, 0x0C]))
        assert rpm[:2] == bytes([0x41, 0x0C]) and len(rpm) == 4
        assert (rpm[2] * 256 + rpm[3]) / 4 == 650.0 == sim.state.rpm  # idling

        vin = _ask(stack, bytes([0x09, 0x02]))  # 20 bytes: multi-frame with flow control
        assert vin[:3] == bytes([0x49, 0x02, 0x01])
        assert len(vin[3:]) == 17 and vin[3:].decode("ascii") == VIN

        supported = _ask(stack, bytes([0x01, 0x00]))
        assert supported[:2] == bytes([0x41, 0x00])
        bits = int.from_bytes(supported[2:6], "big")
        for pid in (0x01, 0x05, 0x0C, 0x0D, 0x20):
            assert bits & (1 << (32 - pid)), f"PID {pid:02X} not in the bitmap"
        nxt = _ask(stack, bytes([0x01, 0x20]))
        bits = int.from_bytes(nxt[2:6], "big")
        assert bits & (1 << (32 - (0x2F - 0x20))) and bits & (1 << (32 - (0x31 - 0x20)))

        several = _ask(stack, bytes([0x01, 0x05, 0x0D, 0x42, 0x2F]))
        state = sim.state
        assert several[0] == 0x41
        assert (
            several[1] == 0x05
            and round(state.coolant_c) - 1 <= several[2] - 40 <= round(state.coolant_c) + 1
        )
        assert several[3:5] == bytes([0x0D, 0])  # standing still
        assert several[5] == 0x42 and int.from_bytes(several[6:8], "big") / 1000 == pytest.approx(
            14.1
        )
        assert several[8] == 0x2F and several[9] * 100 / 255 == pytest.approx(
            state.fuel_level_pct, abs=0.5
        )

        status = _ask(stack, bytes([0x01, 0x01]))
        assert status[2] == 0x80 | 1  # MIL on, one confirmed DTC (P0301 comes later)
        assert _ask(stack, bytes([0x03])) == bytes([0x43, 0x01, 0x02, 0x17])
        assert _ask(stack, bytes([0x07])) == bytes([0x47, 0x01, 0x02, 0x17])
        assert _ask(stack, bytes([0x04])) == bytes([0x44])
        assert _ask(stack, bytes([0x03])) == bytes([0x43, 0x00])
        assert _ask(stack, bytes([0x0A])) == bytes([0x4A, 0x01, 0x02, 0x17])  # permanent
        assert _ask(stack, bytes([0x22, 0xF1, 0x90])) == bytes([0x7F, 0x22, 0x11])
    finally:
        stack.stop()


def test_functional_single_frame_request(obd_sim: tuple[Simulator, can.BusABC]) -> None:
    sim, bus = obd_sim
    while bus.recv(0) is not None:
        pass
    # A broadcast request for vehicle speed and rpm, padded to 8 bytes as ISO 15765-4 asks.
    bus.send(
        can.Message(
            arbitration_id=0x7DF, data=[0x03, 0x01, 0x0D, 0x0C, 0, 0, 0, 0], is_extended_id=False
        )
    )
    reply = None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        msg = bus.recv(0.2)
        if msg is not None and msg.arbitration_id == 0x7E8:
            reply = bytes(msg.data)
            break
    assert reply is not None
    assert len(reply) == 8  # padded single frame
    assert reply[0] == 0x06 and reply[1:5] == bytes([0x41, 0x0D, 0x00, 0x0C])
    assert (reply[5] * 256 + reply[6]) / 4 == sim.state.rpm
    # Unsupported PIDs asked functionally get no answer at all.
    bus.send(
        can.Message(
            arbitration_id=0x7DF, data=[0x02, 0x01, 0x7F, 0, 0, 0, 0, 0], is_extended_id=False
        )
    )
    assert all(m.arbitration_id != 0x7E8 for m in iter(lambda: bus.recv(0.5), None))
    assert sim.counters()["obd"]["requests"] == 2


def test_functional_vin_request_with_flow_control_on_7df(
    obd_sim: tuple[Simulator, can.BusABC],
) -> None:
    _, bus = obd_sim
    # Some testers stay on 7DF for the flow control of a multi-frame answer.
    stack = isotp.CanStack(
        bus,
        address=isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7DF, rxid=0x7E8),
        params={"tx_padding": 0x00, "tx_data_min_length": 8},
    )
    stack.start()
    try:
        assert _ask(stack, bytes([0x09, 0x02]))[3:].decode("ascii") == VIN
        name = _ask(stack, bytes([0x09, 0x0A]))
        assert name[:3] == bytes([0x49, 0x0A, 0x01]) and len(name) == 23
    finally:
        stack.stop()
