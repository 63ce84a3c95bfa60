"""ObdPollerSource against a simulated OBD-II ECU on a real python-can virtual bus.

The ECU is a small thread speaking ISO-TP through can-isotp (physical requests) and
answering functional ``01 00`` single frames; it can be told to go silent.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import can
import isotp
import pytest

from agent.model import Signal
from agent.sources.can_bus import ObdPollerSource

VIN = "TMBJP7NX5NY084923"


class SimEcu:
    """An engine ECU answering mode 01/03/07/09 requests; ``silent`` stops all answers."""

    def __init__(self, channel: str, rxid: int, txid: int, extended: bool, rpm: float) -> None:
        self.channel, self.rxid, self.txid, self.extended = channel, rxid, txid, extended
        self.rpm = rpm
        self.speed_kmh = 42
        self.stored = [(0x03, 0x01)]  # P0301
        self.silent = threading.Event()
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> SimEcu:
        self._thread.start()
        assert self._ready.wait(5), "simulated ECU did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def answer(self, req: bytes) -> bytes | None:
        self.requests.append(req)
        supported = {0x01, 0x05, 0x0C, 0x0D, 0x20, 0x2F, 0x40, 0x42}
        if req[0] == 0x01 and len(req) == 2:
            pid = req[1]
            if pid % 0x20 == 0:
                bits = sum(1 << (31 - (p - pid - 1)) for p in supported if pid < p <= pid + 32)
                return bytes([0x41, pid]) + bits.to_bytes(4, "big")
            if pid == 0x01:
                return bytes([0x41, 0x01, 0x80 | len(self.stored), 0x07, 0xE5, 0x00])
            if pid == 0x0C:
                raw = int(self.rpm * 4)
                return bytes([0x41, 0x0C, raw >> 8, raw & 0xFF])
            if pid == 0x0D:
                return bytes([0x41, 0x0D, self.speed_kmh])
            if pid == 0x05:
                return bytes([0x41, 0x05, 90 + 40])
            if pid == 0x2F:
                return bytes([0x41, 0x2F, 128])
            if pid == 0x42:
                return bytes([0x41, 0x42, 0x36, 0xB0])  # 14.0 V
            return bytes([0x7F, 0x01, 0x12])
        if req == b"\x03":
            return bytes([0x43, len(self.stored)]) + b"".join(bytes(c) for c in self.stored)
        if req == b"\x07":
            return bytes([0x47, 0x00])
        if req == b"\x09\x02":
            return bytes([0x49, 0x02, 0x01]) + VIN.encode()
        return bytes([0x7F, req[0], 0x11])

    def _run(self) -> None:
        bus = can.Bus(interface="virtual", channel=self.channel)
        notifier = can.Notifier(bus, [self._on_functional], timeout=0.05)
        mode = (
            isotp.AddressingMode.Normal_29bits
            if self.extended
            else (isotp.AddressingMode.Normal_11bits)
        )
        stack = isotp.NotifierBasedCanStack(
            bus,
            notifier,
            address=isotp.Address(mode, txid=self.txid, rxid=self.rxid),
            params={"tx_padding": 0xCC, "blocksize": 0},
        )
        self._bus = bus
        stack.start()
        self._ready.set()
        try:
            while not self._stop.is_set():
                req = stack.recv(block=True, timeout=0.05)
                if req is None or self.silent.is_set():
                    continue
                resp = self.answer(bytes(req))
                if resp is not None:
                    stack.send(resp)
        finally:
            stack.stop()
            notifier.stop()
            bus.shutdown()

    def _on_functional(self, msg: can.Message) -> None:
        func = 0x18DB33F1 if self.extended else 0x7DF
        if msg.arbitration_id != func or self.silent.is_set():
            return
        data = bytes(msg.data)
        if data[:3] == b"\x02\x01\x00":
            resp = self.answer(b"\x01\x00")
            assert resp is not None
            frame = bytes([len(resp)]) + resp + b"\xcc" * (7 - len(resp))
            self._bus.send(
                can.Message(arbitration_id=self.txid, data=frame, is_extended_id=self.extended)
            )


def wait_for(cond: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def channel() -> str:
    return f"obd-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def collected() -> Iterator[list[Signal]]:
    yield []


def _values(signals: list[Signal], name: str, source: str | None = None) -> list[Any]:
    return [
        s.value for s in list(signals) if s.name == name and (source is None or s.source == source)
    ]


def test_discovery_values_vin_dtcs_11bit(channel: str, collected: list[Signal]) -> None:
    with SimEcu(channel, 0x7E0, 0x7E8, False, rpm=812.25) as ecu:
        src = ObdPollerSource(
            {"interface": "virtual", "channel": channel},
            {0x0C: 0.05, 0x0D: 0.05, 0x42: 0.2, 0x46: 0.1},
            "11bit",
            dtc_period_s=0.5,
        )
        src.start(collected.append)
        try:
            wait_for(lambda: _values(collected, "Vehicle.VehicleIdentification.VIN"), "VIN")
            wait_for(lambda: len(_values(collected, "Vehicle.Speed")) >= 3, "speed samples")
            wait_for(lambda: _values(collected, "Vehicle.OBD.StoredDTCs"), "DTC read")
            wait_for(lambda: _values(collected, "Vehicle.OBD.Status.IsMILOn"), "MIL status")
            health = src.health()
        finally:
            src.stop()
        assert not src._thread  # stopped and joined
    assert _values(collected, "Vehicle.VehicleIdentification.VIN", "obd:7E8") == [VIN]
    assert set(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed")) == {812.25}
    assert set(_values(collected, "Vehicle.Speed")) == {42}
    assert _values(collected, "Vehicle.OBD.StoredDTCs")[0] == [{"code": "P0301", "kind": "stored"}]
    assert _values(collected, "Vehicle.OBD.Status.DTCCount")[0] == 1
    # PID 0x46 is configured but the ECU does not support it: never requested.
    assert b"\x01\x46" not in ecu.requests
    # 0x0A (permanent DTCs) got a negative response once and is not asked again.
    assert ecu.requests.count(b"\x0a") == 1
    # Bitmaps 00 -> 20 -> 40 were walked: 01 05 0C 0D 20 2F 40 42.
    assert health["ecus"]["obd:7E8"]["supported_pids"] == 8
    assert b"\x01\x20" in ecu.requests and b"\x01\x40" in ecu.requests
    assert health["counts"]["ecus discovered"] == 1


def test_backoff_when_ecu_goes_quiet_and_recovery(channel: str, collected: list[Signal]) -> None:
    with SimEcu(channel, 0x7E0, 0x7E8, False, rpm=700.0) as ecu:
        src = ObdPollerSource(
            {"interface": "virtual", "channel": channel},
            {0x0C: 0.02},
            "11bit",
            response_timeout_s=0.05,
            max_backoff_s=1.0,
        )
        src.start(collected.append)
        try:
            wait_for(
                lambda: len(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed")) >= 3,
                "rpm before silence",
            )
            ecu.silent.set()
            wait_for(lambda: src.health()["ecus"]["obd:7E8"]["quiet"], "ECU marked quiet")
            wait_for(
                lambda: src.health()["ecus"]["obd:7E8"]["backoff_s"] == 1.0,
                "backoff doubled to its maximum",
            )
            # While quiet only probes are sent: far fewer requests than at the 20 ms rate.
            n0 = len(ecu.requests)
            time.sleep(1.0)
            probes = len(ecu.requests) - n0
            assert probes <= 3, f"{probes} requests while quiet (expected backoff probes only)"
            before = len(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed"))
            ecu.rpm = 1500.0
            ecu.silent.clear()
            wait_for(lambda: src.health()["counts"].get("ecu recoveries", 0) >= 1, "recovery")
            wait_for(
                lambda: 1500.0 in _values(collected, "Vehicle.Powertrain.CombustionEngine.Speed"),
                "rpm after recovery",
            )
            health = src.health()
        finally:
            src.stop()
    assert len(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed")) > before
    assert not health["ecus"]["obd:7E8"]["quiet"]
    assert health["counts"]["ecu went quiet"] >= 1


def test_two_ecus_29bit(channel: str, collected: list[Signal]) -> None:
    with (
        SimEcu(channel, 0x18DA10F1, 0x18DAF110, True, rpm=650.0),
        SimEcu(channel, 0x18DA18F1, 0x18DAF118, True, rpm=1200.0),
    ):
        src = ObdPollerSource({"interface": "virtual", "channel": channel}, {0x0C: 0.05}, "29bit")
        src.start(collected.append)
        try:
            for source in ("obd:18DAF110", "obd:18DAF118"):
                wait_for(
                    lambda s=source: _values(
                        collected, "Vehicle.Powertrain.CombustionEngine.Speed", s
                    ),
                    f"rpm from {source}",
                )
                wait_for(
                    lambda s=source: _values(collected, "Vehicle.VehicleIdentification.VIN", s),
                    f"VIN from {source}",
                )
        finally:
            src.stop()
    assert set(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed", "obd:18DAF110")) == {
        650.0
    }
    assert set(_values(collected, "Vehicle.Powertrain.CombustionEngine.Speed", "obd:18DAF118")) == {
        1200.0
    }


def test_no_ecu_and_bad_bus_are_reported_not_raised(channel: str) -> None:
    src = ObdPollerSource(
        {"interface": "virtual", "channel": channel},
        {0x0C: 0.1},
        response_timeout_s=0.05,
        max_backoff_s=0.2,
    )
    src.start(lambda obs: None)
    try:
        wait_for(
            lambda: src.health()["counts"].get("discovery found nothing", 0) >= 2,
            "repeated empty discovery",
        )
    finally:
        src.stop()
    broken = ObdPollerSource({"interface": "no-such-interface"}, {0x0C: 0.1})
    broken.start(lambda obs: None)
    try:
        wait_for(lambda: broken.health()["bus_errors"] >= 1, "bus error reported")
        assert broken.health()["connected"] is False
        assert "no-such-interface" in broken.health()["last_error"]
    finally:
        broken.stop()


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="addressing"):
        ObdPollerSource({"interface": "virtual"}, {0x0C: 1.0}, "16bit")
    with pytest.raises(ValueError, match="PID"):
        ObdPollerSource({"interface": "virtual"}, {0x0C: 0.0})
