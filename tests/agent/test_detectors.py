"""Detectors: a simulated J1939 engine day (start, idle 10 min, drive, stop) through the
decoder and the chain, plus hand-built sequences for harsh, overspeed, DTC and params."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import can
import pytest

from agent.decode.can_decoder import CanDecoder
from agent.detectors import DetectorChain, DetectorParams
from agent.detectors.common import Reading
from agent.detectors.ignition import IgnitionState
from agent.detectors.ignition import step as ignition_step
from agent.errors import ConfigError
from agent.model import LANE_FAULT, Event, Position, Signal
from agent.stages.vehicle_state import VehicleState

T0 = 1_700_000_000.0  # s, scenario start (UTC)
TICK = 0.5  # s between engine broadcasts
ODO0_KM = 13832.0
IDLE_RATE_LPH, DRIVE_RATE_LPH = 2.4, 18.0


def speed_at(t: float) -> float:
    """Scenario speed (km/h) at t seconds after T0: still, drive 610-1850 s, still."""
    if 610 <= t < 630:
        return 60.0 * (t - 610) / 20
    if 630 <= t < 1830:
        return 60.0
    if 1830 <= t < 1850:
        return 60.0 * (1850 - t) / 20
    return 0.0


def rpm_at(t: float) -> float:
    if t < 10 or t >= 1910:
        return 0.0
    return 1400.0 if 610 <= t < 1850 else 650.0


def odometer_at(t: float) -> float:
    """km, the exact integral of speed_at (piecewise linear)."""
    d = 0.0
    if t > 610:
        ramp = min(t, 630) - 610
        d += 60.0 * ramp * ramp / 40 / 3600
    if t > 630:
        d += 60.0 * (min(t, 1830) - 630) / 3600
    if t > 1830:
        a = min(t, 1850) - 1830
        d += (60.0 * a - 60.0 * a * a / 40) / 3600
    return ODO0_KM + d


def engine_frames(with_lfc: bool = False, end_s: float = 1940.0) -> Iterator[can.Message]:
    """J1939 frames from engine SA 0x00: LFE, VD, CCVS, EEC1 (and LFC) every TICK."""
    fuel_l = 500.0
    t = 0.0
    while t <= end_s:
        ts = T0 + t
        rpm = rpm_at(t)
        rate = 0.0 if rpm == 0 else (DRIVE_RATE_LPH if speed_at(t) > 0 else IDLE_RATE_LPH)
        fuel_l += rate * TICK / 3600
        lfe = round(rate / 0.05).to_bytes(2, "little") + b"\xff" * 6
        vd = b"\xff" * 4 + int(odometer_at(t) / 0.125).to_bytes(4, "little")
        ccvs = b"\xf3" + int(speed_at(t) * 256).to_bytes(2, "little") + b"\xff" * 5
        eec1 = b"\xf0\x7d\x7d" + int(rpm / 0.125).to_bytes(2, "little") + b"\x00\xf0\xff"
        frames = [(0x18FEF200, lfe), (0x18FEE000, vd), (0x18FEF100, ccvs), (0x0CF00400, eec1)]
        if with_lfc:
            frames.append((0x18FEE900, b"\xff" * 4 + int(fuel_l / 0.5).to_bytes(4, "little")))
        for i, (aid, data) in enumerate(frames):
            yield can.Message(
                timestamp=ts + i * 0.001, arbitration_id=aid, data=data, is_extended_id=True
            )
        t += TICK


def run_chain(
    signals: Iterator[Signal] | list[Signal], params: DetectorParams | None = None
) -> list[Event]:
    chain = DetectorChain(params or DetectorParams())
    events: list[Event] = []
    for s in signals:
        events.extend(chain.feed(s))
    return events


def decoded(frames: Iterator[can.Message]) -> Iterator[Signal]:
    dec = CanDecoder()
    for msg in frames:
        yield from dec.feed(msg)
    assert not dec.skipped, dec.skipped


def ms(t: float, frame_index: int = 3) -> int:
    """UTC ms of scenario time t for the frame at position ``frame_index`` in a tick."""
    return int((T0 + t + frame_index * 0.001) * 1000)


def check_engine_day(events: list[Event], fuel_source: str) -> None:
    assert [e.name for e in events] == [
        "ignition_on",
        "idle_start",
        "idle_end",
        "trip_start",
        "ignition_off",
        "trip_end",
    ]
    on, idle_start, idle_end, trip_start, off, trip_end = events
    assert on.time_ms == ms(10)  # first EEC1 with 650 rpm
    assert idle_start.time_ms == ms(10)
    assert idle_end.time_ms == ms(611, 2)  # first CCVS at >= 3 km/h
    assert idle_end.attrs["duration_s"] == pytest.approx(601.0, abs=0.01)
    assert idle_end.attrs["end_reason"] == "moving"
    assert idle_end.attrs["fuel_source"] == fuel_source
    if fuel_source == "rate":
        # the last half second before moving off is burned at the driving rate
        assert idle_end.attrs["fuel_l"] == pytest.approx(IDLE_RATE_LPH * 601 / 3600, abs=0.005)
    else:  # 0.5 L counter resolution
        assert idle_end.attrs["fuel_l"] == pytest.approx(IDLE_RATE_LPH * 601 / 3600, abs=0.5)
    assert trip_start.time_ms == ms(611, 2)
    assert off.time_ms == ms(1910)
    assert trip_end.time_ms == ms(1849.5, 2)  # first CCVS under 3 km/h
    assert trip_end.attrs["duration_s"] == pytest.approx(1238.5, abs=0.01)
    assert trip_end.attrs["distance_source"] == "odometer"
    true_km = odometer_at(1849.5) - odometer_at(611)
    assert trip_end.attrs["distance_km"] == pytest.approx(true_km, abs=0.25)  # 0.125 km/bit
    assert trip_end.attrs["end_reason"] == "engine_off"


def test_engine_day_rate_integration() -> None:
    check_engine_day(run_chain(decoded(engine_frames())), "rate")


def test_engine_day_total_fuel_counter() -> None:
    check_engine_day(run_chain(decoded(engine_frames(with_lfc=True))), "counter")


def test_short_idle_and_longer_threshold() -> None:
    # With idle_min_s above the 601 s idle nothing idles at all.
    events = run_chain(decoded(engine_frames()), DetectorParams(idle_min_s=700))
    assert [e.name for e in events] == ["ignition_on", "trip_start", "ignition_off", "trip_end"]


def test_trip_from_gnss_speed_when_can_has_none() -> None:
    """No CAN speed at all: GNSS speed drives trip detection, distance is integrated."""
    sigs: list[Any] = []
    for i in range(0, 2 * 700):  # 700 s: trip ends 300 s after the stop at 360 s
        t = i * 0.5
        t_ms = int((T0 + t) * 1000)
        sigs.append(
            Signal(t_ms, "Vehicle.Powertrain.CombustionEngine.Speed", 800.0, "rpm", "obd:7E8")
        )
        v = 36.0 if 60 <= t < 360 else 0.0
        sigs.append(Position(t_ms, {"lat": 1.0, "lon": 2.0, "speed_mps": v / 3.6, "flags": []}))
    events = [e for e in run_chain(sigs) if not e.name.startswith("harsh")]
    names = [e.name for e in events]
    assert names[:2] == ["ignition_on", "trip_start"]
    trip_end = next(e for e in events if e.name == "trip_end")
    assert trip_end.attrs["distance_source"] == "speed"
    assert trip_end.attrs["distance_km"] == pytest.approx(3.0, abs=0.01)  # 36 km/h x 300 s
    assert trip_end.attrs["end_reason"] == "stopped"
    assert next(e for e in events if e.name == "trip_start").attrs["speed_source"] == "gnss"


def _speed_series(points: list[tuple[float, float]], step_s: float = 0.1) -> list[Signal]:
    out = []
    for (t1, v1), (t2, v2) in itertools.pairwise(points):
        t = t1
        while t < t2 - 1e-9:
            v = v1 + (v2 - v1) * (t - t1) / (t2 - t1)
            out.append(Signal(int((T0 + t) * 1000), "Vehicle.Speed", v, "km/h", "j1939:sa=0x00"))
            t += step_s
    return out


def test_harsh_brake_and_accel_once_per_episode() -> None:
    # 50 -> 80 km/h in 2 s (4.2 m/s²), cruise, 80 -> 20 km/h in 3 s (5.6 m/s²), gentle stop.
    sigs = _speed_series([(0, 50), (5, 50), (7, 80), (20, 80), (23, 20), (53, 0), (55, 0)])
    events = [e for e in run_chain(sigs) if e.name.startswith("harsh")]
    assert [e.name for e in events] == ["harsh_accel", "harsh_brake"]
    assert events[0].attrs["accel_mps2"] == pytest.approx(30 / 3.6 / 2, abs=0.05)
    assert events[1].attrs["accel_mps2"] == pytest.approx(-60 / 3.6 / 3, abs=0.05)
    assert abs(events[1].time_ms - int((T0 + 20) * 1000)) <= 1000


def test_overspeed_needs_min_duration_and_hysteresis() -> None:
    blip = _speed_series([(0, 80), (1, 95), (3, 95), (4, 80), (10, 80)])  # 3 s over: nothing
    assert not [e for e in run_chain(blip) if e.name.startswith("overspeed")]
    long = _speed_series([(0, 80), (1, 100), (20, 100), (21, 89), (30, 89), (31, 85), (40, 85)])
    events = [e for e in run_chain(long) if e.name.startswith("overspeed")]
    assert [e.name for e in events] == ["overspeed_start", "overspeed_end"]
    assert events[1].attrs["max_speed_kmh"] == pytest.approx(100, abs=0.01)
    # 89 km/h is inside the 2 km/h hysteresis band: the episode ends at ~31 s, not 21 s
    assert events[1].attrs["duration_s"] == pytest.approx(30.2, abs=0.5)


def _dm1(t_s: float, faults: list[tuple[int, int, int]]) -> Signal:
    value = {
        "lamps": {"mil": "on", "red_stop": "off", "amber": "off", "protect": "na"},
        "faults": [{"spn": s, "fmi": f, "oc": o, "sa": 0} for s, f, o in faults],
    }
    return Signal(
        int((T0 + t_s) * 1000), "Vehicle.Diagnostics.ActiveFaults", value, "", "j1939:sa=0x00"
    )


def test_dtc_new_and_cleared_with_snapshot() -> None:
    rpm = Signal(
        int(T0 * 1000), "Vehicle.Powertrain.CombustionEngine.Speed", 700.0, "rpm", "j1939:sa=0x00"
    )
    obd0 = Signal(int((T0 + 4) * 1000), "Vehicle.OBD.StoredDTCs", [], "", "obd:7E8")
    obd1 = Signal(
        int((T0 + 5) * 1000),
        "Vehicle.OBD.StoredDTCs",
        [{"code": "P0301", "kind": "stored"}],
        "",
        "obd:7E8",
    )
    sigs = [
        rpm,
        _dm1(1, [(980, 9, 1), (609, 12, 3)]),
        _dm1(2, [(980, 9, 2), (609, 12, 3)]),
        _dm1(3, [(609, 12, 4)]),
        obd0,
        obd1,
        obd1,
    ]
    events = [e for e in run_chain(sigs) if e.name.startswith("dtc")]
    assert [(e.name, e.attrs["fault"].get("spn") or e.attrs["fault"]["code"]) for e in events] == [
        ("dtc_new", 980),
        ("dtc_new", 609),
        ("dtc_cleared", 980),
        ("dtc_new", "P0301"),
    ]
    assert all(e.lane == LANE_FAULT for e in events)
    snap = events[0].attrs["snapshot"]
    assert snap["Vehicle.Powertrain.CombustionEngine.Speed"]["value"] == 700.0
    assert events[0].attrs["lamps"]["mil"] == "on"
    assert events[2].time_ms == int((T0 + 3) * 1000)


def test_ignition_off_when_engine_data_stops() -> None:
    p = DetectorParams()
    state, ev = IgnitionState(), []
    base = int(T0 * 1000)
    for i in range(40):  # 650 rpm at 10 Hz for 4 s
        state, e = ignition_step(
            state, Reading(base + i * 100, rpm=650.0, rpm_ms=base + i * 100), p
        )
        ev += e
    # then only GNSS readings: the rpm goes stale and the engine counts as off
    for i in range(1, 20):
        t = base + 3900 + i * 1000
        state, e = ignition_step(state, Reading(t, rpm=650.0, rpm_ms=base + 3900), p)
        ev += e
    assert [(e.name, e.time_ms) for e in ev] == [
        ("ignition_on", base),
        ("ignition_off", base + 3900),
    ]


def test_vehicle_state_prefers_fresh_can_speed() -> None:
    vs = VehicleState()
    assert vs.get("Vehicle.Speed") is None
    vs.update(Position(1000, {"lat": 1.0, "lon": 2.0, "speed_mps": 10.0, "flags": []}))
    assert vs.get("Vehicle.Speed") == (pytest.approx(36.0), "gnss", 1000)
    vs.update(Signal(1500, "Vehicle.Speed", 40.0, "km/h", "j1939:sa=0x00"))
    assert vs.get("Vehicle.Speed") == (40.0, "j1939:sa=0x00", 1500)
    vs.update(Position(20_000, {"lat": 1.0, "lon": 2.0, "speed_mps": 5.0, "flags": []}))
    assert vs.get("Vehicle.Speed")[1] == "gnss"  # CAN speed 18.5 s older: stale
    vs.update(Position(21_000, {"lat": 9.0, "speed_mps": 50.0, "flags": ["jump"]}))
    assert vs.get("Vehicle.CurrentLocation.Latitude")[0] == 1.0  # an untrusted fix is not used
    vs.update(Position(22_000, {"lat": 1.5, "lon": 2.0, "speed_mps": 5.0, "flags": ["high_hdop"]}))
    assert vs.get("Vehicle.CurrentLocation.Latitude")[0] == 1.5  # less exact, still used
    snap = vs.snapshot()
    assert snap["Vehicle.Speed"]["source"] == "gnss"
    assert snap["Vehicle.CurrentLocation.Longitude"] == {
        "value": 2.0,
        "source": "gnss",
        "time_ms": 22_000,
    }
    with pytest.raises(TypeError):
        vs.update("not an observation")  # type: ignore[arg-type]


def test_params_from_dict() -> None:
    p = DetectorParams.from_dict({"idle_min_s": 120, "overspeed_kmh": 80.5})
    assert (p.idle_min_s, p.overspeed_kmh) == (120.0, 80.5)
    with pytest.raises(ConfigError, match=r"unknown detector parameter.*idle_minutes"):
        DetectorParams.from_dict({"idle_minutes": 5})
    with pytest.raises(ConfigError, match="must be a number"):
        DetectorParams.from_dict({"idle_min_s": "5"})
    with pytest.raises(ConfigError, match=">= 0"):
        DetectorParams.from_dict({"moving_kmh": -1})


def test_vehicle_state_keeps_one_sender_per_numeric_value() -> None:
    vs = VehicleState()
    vs.update(Signal(1000, "Vehicle.Speed", 50.0, "km/h", "j1939:sa=0x00"))
    vs.update(Signal(1050, "Vehicle.Speed", 48.0, "km/h", "j1939:sa=0xEE"))
    assert vs.get("Vehicle.Speed") == (50.0, "j1939:sa=0x00", 1000)
    assert vs.held_back == 1
    vs.update(Signal(7000, "Vehicle.Speed", 47.0, "km/h", "j1939:sa=0xEE"))  # 0x00 went quiet
    assert vs.get("Vehicle.Speed") == (47.0, "j1939:sa=0xEE", 7000)
    # fault lists are per sender: always the latest
    vs.update(Signal(7100, "Vehicle.OBD.StoredDTCs", [], "", "obd:7E8"))
    vs.update(Signal(7200, "Vehicle.OBD.StoredDTCs", [{"code": "U0100"}], "", "obd:7E9"))
    assert vs.get("Vehicle.OBD.StoredDTCs") == ([{"code": "U0100"}], "obd:7E9", 7200)
