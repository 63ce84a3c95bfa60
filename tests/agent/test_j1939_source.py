"""J1939Source on a real python-can virtual bus: a simulated engine broadcasts the
engine-day scenario (with its own timestamps) and a DM1 by BAM; the detector chain fed
from the source's output finds exactly the scenario's events."""

from __future__ import annotations

import threading
import time
import uuid

import can

from agent.detectors import DetectorChain
from agent.model import Observation, Signal
from agent.sources.can_bus import J1939Source
from tests.agent.test_detectors import T0, check_engine_day, engine_frames


def _dm1_bam(ts: float) -> list[can.Message]:
    payload = bytes.fromhex("43FFD403097E900C14026102090161020C03")
    cm = bytes([0x20, 18, 0, 3, 0xFF, 0xCA, 0xFE, 0x00])
    frames = [can.Message(timestamp=ts, arbitration_id=0x1CECFF00, data=cm, is_extended_id=True)]
    for i in range(3):
        chunk = payload[7 * i : 7 * i + 7].ljust(7, b"\xff")
        frames.append(
            can.Message(
                timestamp=ts + 0.05 * (i + 1),
                arbitration_id=0x1CEBFF00,
                data=bytes([i + 1]) + chunk,
                is_extended_id=True,
            )
        )
    return frames


def test_engine_day_over_virtual_bus() -> None:
    channel = f"j1939-{uuid.uuid4().hex[:8]}"
    received: list[Observation] = []
    lock = threading.Lock()

    def emit(obs: Observation) -> None:
        with lock:
            received.append(obs)

    source = J1939Source({"interface": "virtual", "channel": channel})
    source.start(emit)
    frames = [*_dm1_bam(T0 + 5.0), *engine_frames()]
    # A different bus id (and a proprietary 11-bit frame) on the same wire.
    frames.append(
        can.Message(timestamp=T0 + 1941, arbitration_id=0x123, data=b"\x01", is_extended_id=False)
    )
    try:
        deadline = time.monotonic() + 10
        while not source.health()["connected"]:
            assert time.monotonic() < deadline, "source did not connect"
            time.sleep(0.01)
        with can.Bus(interface="virtual", channel=channel, preserve_timestamps=True) as engine:
            for msg in frames:
                engine.send(msg)
        while source.health()["counts"].get("frames", 0) < len(frames):
            assert time.monotonic() < deadline, f"only {source.health()} of {len(frames)} frames"
            time.sleep(0.01)
    finally:
        source.stop()
    health = source.health()
    assert health["skipped"] == {"non-j1939 11-bit traffic": 1}
    assert health["connected"] is False
    chain = DetectorChain()
    events = []
    for obs in received:
        events.extend(chain.feed(obs))
    dtc = [e for e in events if e.name == "dtc_new"]
    assert [(e.attrs["fault"]["spn"], e.attrs["fault"]["fmi"]) for e in dtc] == [
        (980, 9),
        (3216, 20),
        (609, 9),
        (609, 12),
    ]
    check_engine_day([e for e in events if e.name != "dtc_new"], "rate")
    assert all(isinstance(o, Signal) and o.source == "j1939:sa=0x00" for o in received)
