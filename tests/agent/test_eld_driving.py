"""Automatic driving detection (Appendix A 4.3.1.2, 4.4.1, 4.5.1.2, 4.5.1.6) through
``EldRecorder`` with a real SQLite duty store, fed synthetic observations whose times
are chosen (no real waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.eld import DutyStore, EldParams, EldRecorder
from agent.eld.driving import (
    ENGINE_SPEED,
    IGNITION_STATE,
    MAX_THRESHOLD_KMH,
    VEHICLE_SPEED,
)
from agent.eld.errors import EldConflict
from agent.eld.recorder import ENGINE_HOURS, ODOMETER
from agent.errors import ConfigError
from agent.model import LANE_ELD, Event, Position, Signal

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, UTC ms
SEC = 1000
MIN = 60 * SEC


def can(t: int, name: str, value: Any, unit: str = "") -> Signal:
    return Signal(t, name, value, unit, "j1939:sa=0x00")


def speed(t: int, kmh: float) -> Signal:
    return can(t, VEHICLE_SPEED, kmh, "km/h")


def fix(t: int, lat: float = 41.3212, lon: float = -72.9345, mps: float | None = None) -> Position:
    data: dict[str, Any] = {"lat": lat, "lon": lon, "valid": True, "flags": []}
    if mps is not None:
        data["speed_mps"] = mps
    return Position(t, data)


class Cab:
    """A recorder with its store, plus helpers that feed seconds of driving."""

    def __init__(self, path: Path, **store_kw: Any) -> None:
        self.path = path
        self.store_kw = store_kw
        self.store = DutyStore(path, **store_kw)
        self.rec = EldRecorder(EldParams(), self.store)
        self.events: list[Event] = []

    def feed(self, *obs: Signal | Position) -> list[Event]:
        out: list[Event] = []
        for o in obs:
            out.extend(self.rec.feed(o))
        self.events.extend(out)
        return out

    def hold(self, start: int, seconds: int, kmh: float, every_s: int = 1) -> list[Event]:
        """Constant speed, one CAN speed sample every ``every_s`` from ``start``."""
        return self.feed(*(speed(start + i * SEC, kmh) for i in range(0, seconds, every_s)))

    def reopen(self) -> None:
        self.store.close()
        self.store = DutyStore(self.path, **self.store_kw)
        self.rec = EldRecorder(EldParams(), self.store)

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


@pytest.fixture
def cab(tmp_path: Path) -> Iterator[Cab]:
    c = Cab(tmp_path / "eld.db", allow_personal_conveyance=True, allow_yard_move=True)
    yield c
    c.store.close()


def statuses(events: list[Event]) -> list[tuple[int, str, str]]:
    return [
        (e.time_ms, e.attrs["status"], e.attrs["origin"])
        for e in events
        if e.name == "eld_duty_status"
    ]


def test_threshold_is_never_above_5_mph() -> None:
    assert EldParams().driving_threshold_kmh == pytest.approx(8.04672)
    EldParams(driving_threshold_kmh=MAX_THRESHOLD_KMH)
    with pytest.raises(ConfigError, match="5 mph"):
        EldParams(driving_threshold_kmh=8.1)
    with pytest.raises(ConfigError, match="unknown eld parameter"):
        EldParams.from_dict({"speed_limit": 3})


def test_motion_above_threshold_becomes_driving(cab: Cab) -> None:
    login = cab.store.login("jsmith", time_ms=T0)
    cab.store.set_status("on_duty", "pre-trip", time_ms=T0 + 1)
    assert cab.hold(T0 + 10 * SEC, 10, 7.9) == []  # below 5 mph: not in motion
    out = cab.hold(T0 + 20 * SEC, 5, 8.1)
    assert [e.name for e in out] == ["eld_duty_status"]
    ev = out[0]
    assert ev.time_ms == T0 + 20 * SEC
    assert ev.lane == LANE_ELD
    assert ev.attrs["status"] == "driving"
    assert ev.attrs["origin"] == "auto" and ev.attrs["record_origin"] == 1
    assert (ev.attrs["eld_event_type"], ev.attrs["eld_event_code"]) == (1, 3)
    assert ev.attrs["driver_id"] == "jsmith"
    assert ev.attrs["eld_seq"] == login.attrs["eld_seq"] + 2
    assert cab.store.snapshot().status == "driving"
    assert cab.store.snapshot().moving is True


def test_stop_needs_3_seconds_at_zero(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 10, 50.0)
    cab.hold(T0 + 10 * SEC, 3, 0.0)  # 0 at +10, +11, +12: only 2 s so far
    assert cab.rec.state.moving
    cab.hold(T0 + 13 * SEC, 1, 2.0)  # creeping again: the 3 s start over
    cab.hold(T0 + 14 * SEC, 3, 0.0)
    assert cab.rec.state.moving
    cab.hold(T0 + 17 * SEC, 1, 0.0)  # 3 s at 0 since +14
    assert not cab.rec.state.moving
    assert cab.rec.state.stopped_since_ms == T0 + 14 * SEC
    assert cab.store.snapshot().moving is False
    # Stopping alone changes no duty status (4.4.1.3).
    assert statuses(cab.events) == [(T0, "driving", "auto")]


def test_five_minutes_stopped_prompts_then_on_duty_after_one_minute(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 60, 60.0)
    stop = T0 + 60 * SEC
    cab.hold(stop, 5 * 60 - 1, 0.0)
    assert cab.named("eld_driving_prompt") == []
    cab.hold(stop + 5 * MIN, 1, 0.0)
    [prompt] = cab.named("eld_driving_prompt")
    assert prompt.time_ms == stop + 5 * MIN
    assert prompt.attrs["eld_seq"] is None  # not an Appendix A record
    assert prompt.attrs["stopped_since_ms"] == stop
    assert cab.store.snapshot().prompt_at_ms == stop + 5 * MIN
    cab.hold(stop + 5 * MIN + SEC, 59, 0.0)
    assert statuses(cab.events)[-1][1] == "driving"
    cab.hold(stop + 6 * MIN, 1, 0.0)
    last = cab.named("eld_duty_status")[-1]
    assert (last.time_ms, last.attrs["status"], last.attrs["record_origin"]) == (
        stop + 6 * MIN,
        "on_duty",
        1,
    )
    assert last.attrs["reason"] == "prompt_unanswered"
    snap = cab.store.snapshot()
    assert snap.status == "on_duty" and snap.prompt_at_ms is None


def test_still_driving_answer_keeps_driving(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 10, 60.0)
    stop = T0 + 10 * SEC
    cab.hold(stop, 5 * 60 + 10, 0.0)
    assert len(cab.named("eld_driving_prompt")) == 1
    answered = stop + 5 * MIN + 20 * SEC
    assert cab.store.answer_prompt(True, time_ms=answered) == []
    cab.hold(answered, 4 * 60, 0.0)  # well past the 1-minute answer window
    assert [s for _, s, _ in statuses(cab.events)] == ["driving"]
    assert cab.store.snapshot().status == "driving"
    # Still stationary: asked again 5 minutes after the answer, not before.
    assert len(cab.named("eld_driving_prompt")) == 1
    cab.hold(answered + 4 * MIN, 61, 0.0)
    prompts = cab.named("eld_driving_prompt")
    assert [p.time_ms for p in prompts][1] == answered + 5 * MIN


def test_not_driving_answer_is_a_driver_entry(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 10, 60.0)
    cab.hold(T0 + 10 * SEC, 5 * 60 + 5, 0.0)
    [event] = cab.store.answer_prompt(False, time_ms=T0 + 6 * MIN)
    assert event.attrs["status"] == "on_duty"
    assert event.attrs["record_origin"] == 2 and event.attrs["origin"] == "driver"
    cab.hold(T0 + 6 * MIN, 120, 0.0)
    assert [s for _, s, _ in statuses(cab.events)] == ["driving"]  # no auto change after
    with pytest.raises(EldConflict, match="no driving prompt"):
        cab.store.answer_prompt(False, time_ms=T0 + 9 * MIN)


def test_moving_again_closes_the_prompt(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 10, 60.0)
    cab.hold(T0 + 10 * SEC, 5 * 60 + 10, 0.0)
    assert cab.store.snapshot().prompt_at_ms is not None
    cab.hold(T0 + 6 * MIN, 120, 30.0)
    assert cab.store.snapshot().prompt_at_ms is None
    assert [s for _, s, _ in statuses(cab.events)] == ["driving"]


def test_intermediate_log_every_60_minutes_in_motion(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.feed(can(T0, ODOMETER, 1000.0, "km"), can(T0, ENGINE_HOURS, 500.0, "h"))
    cab.feed(can(T0 + SEC, ENGINE_SPEED, 700.0, "rpm"), can(T0 + 3 * SEC, ENGINE_SPEED, 700.0))
    [power_up] = cab.named("eld_engine_power_up")
    start = T0 + 10 * SEC
    # 3 h 5 min at 90 km/h, a sample every 10 s with odometer and rpm.
    for i in range(0, 185 * 60, 10):
        t = start + i * SEC
        cab.feed(
            speed(t, 90.0),
            can(t, ENGINE_SPEED, 1400.0),
            can(t, ODOMETER, 1000.0 + 90.0 * i / 3600),
            can(t, ENGINE_HOURS, 500.0 + i / 3600),
            fix(t, 41.0 + i * 1e-5, -72.0),
        )
    logs = cab.named("eld_intermediate_log")
    assert [e.time_ms - start for e in logs] == [60 * MIN, 120 * MIN, 180 * MIN]
    first = logs[0].attrs
    assert (first["eld_event_type"], first["eld_event_code"]) == (2, 1)
    assert first["duty_status"] == "driving" and first["driver_id"] == "jsmith"
    # Accumulated since power-up: 90 km in the hour = 55.9 mi -> 55 whole miles.
    assert first["vehicle_miles"] == 55 and first["vehicle_miles_basis"] == "accumulated"
    assert first["engine_hours"] == pytest.approx(1.0) and first["engine_hours_basis"] == "elapsed"
    assert first["location_precision"] == "conventional"
    assert first["lat"] == round(41.0 + 3590 * 1e-5, 2)
    seqs = [e.attrs["eld_seq"] for e in cab.events if e.attrs.get("eld_seq") is not None]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert power_up.attrs["vehicle_miles"] == int(1000 / 1.609344)
    assert power_up.attrs["vehicle_miles_basis"] == "total"


def test_engine_power_up_and_shut_down(cab: Cab) -> None:
    cab.feed(can(T0, ODOMETER, 321.0), can(T0, ENGINE_HOURS, 12.34))
    cab.feed(*(can(T0 + i * SEC, ENGINE_SPEED, 0.0) for i in range(3)))
    assert cab.named("eld_engine_power_up") == []
    on = T0 + 5 * SEC
    cab.feed(*(can(on + i * 500, ENGINE_SPEED, 650.0) for i in range(4)))
    [up] = cab.named("eld_engine_power_up")
    assert up.time_ms == on
    assert (up.attrs["eld_event_type"], up.attrs["eld_event_code"]) == (6, 1)
    assert up.attrs["engine_hours"] == pytest.approx(12.3)
    assert up.attrs["driver_id"] == "unidentified"
    # A 2-second dip to 0 rpm is no shut-down; 5 s at 0 is.
    cab.feed(*(can(on + 10 * SEC + i * SEC, ENGINE_SPEED, 0.0) for i in range(3)))
    cab.feed(can(on + 13 * SEC, ENGINE_SPEED, 600.0))
    assert cab.named("eld_engine_shut_down") == []
    off = on + 20 * SEC
    cab.feed(*(can(off + i * SEC, ENGINE_SPEED, 0.0) for i in range(6)))
    [down] = cab.named("eld_engine_shut_down")
    assert down.time_ms == off
    assert down.attrs["eld_event_code"] == 3
    assert cab.store.snapshot().engine_on is False


def test_silent_bus_and_ignition_signal(cab: Cab) -> None:
    cab.feed(can(T0, ENGINE_SPEED, 700.0), can(T0 + 2 * SEC, ENGINE_SPEED, 700.0))
    assert len(cab.named("eld_engine_power_up")) == 1
    # The ECU stops talking; GNSS goes on. Shut-down is stamped at its last word.
    cab.feed(*(fix(T0 + 3 * SEC + i * SEC) for i in range(15)))
    [down] = cab.named("eld_engine_shut_down")
    assert down.time_ms == T0 + 2 * SEC
    # Ignition ON is power-up even before the engine turns (rpm still 0).
    t = T0 + MIN
    cab.feed(can(t, IGNITION_STATE, "ON"), can(t, ENGINE_SPEED, 0.0))
    cab.feed(can(t + 2 * SEC, IGNITION_STATE, "ON"), can(t + 2 * SEC, ENGINE_SPEED, 0.0))
    assert [e.time_ms for e in cab.named("eld_engine_power_up")] == [T0, t]


def test_restart_keeps_engine_and_status_without_duplicates(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.feed(can(T0, ENGINE_SPEED, 700.0), can(T0 + 2 * SEC, ENGINE_SPEED, 700.0))
    cab.hold(T0 + 3 * SEC, 5, 40.0)
    before = len(cab.events)
    cab.reopen()
    cab.feed(can(T0 + 10 * SEC, ENGINE_SPEED, 700.0), can(T0 + 12 * SEC, ENGINE_SPEED, 700.0))
    cab.hold(T0 + 12 * SEC, 5, 40.0)
    assert len(cab.events) == before  # no second power-up, no second driving event
    assert cab.store.snapshot().status == "driving"


def test_unidentified_driver_when_nobody_logged_in(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.store.logout(time_ms=T0 + SEC)
    out = cab.hold(T0 + 10 * SEC, 5, 30.0)
    [drive] = out
    assert drive.attrs["driver_id"] == "unidentified"
    assert drive.attrs["status"] == "driving"
    cab.hold(T0 + 15 * SEC, 4, 0.0)
    # The driver's own status is not the unidentified profile's.
    login = cab.store.login("jsmith", time_ms=T0 + MIN)
    assert login.attrs["driver_id"] == "jsmith"
    assert cab.store.snapshot().status == "off_duty"
    assert cab.store.snapshot().driver_id == "jsmith"


def test_login_while_moving_switches_the_driver_to_driving(cab: Cab) -> None:
    cab.hold(T0, 5, 30.0)
    cab.store.login("jsmith", time_ms=T0 + 5 * SEC)
    out = cab.hold(T0 + 6 * SEC, 2, 30.0)
    assert [(e.attrs["driver_id"], e.attrs["status"]) for e in out] == [("jsmith", "driving")]


def test_personal_conveyance_and_yard_move_do_not_become_driving(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.feed(fix(T0, 41.3456, -72.9876))
    pc = cab.store.set_status("personal_conveyance", "to the motel", time_ms=T0 + SEC)
    assert (pc.attrs["eld_event_type"], pc.attrs["eld_event_code"]) == (3, 1)
    assert pc.attrs["lat"] == 41.3 and pc.attrs["location_precision"] == "reduced"
    # Moving for 65 minutes under PC: no driving, an intermediate log with reduced precision.
    for i in range(0, 65 * 60, 5):
        cab.feed(speed(T0 + 2 * SEC + i * SEC, 50.0), fix(T0 + 2 * SEC + i * SEC))
    assert [s for _, s, _ in statuses(cab.events)] == []
    logs = cab.named("eld_intermediate_log")
    assert len(logs) == 1
    assert logs[0].attrs["eld_event_code"] == 2
    assert logs[0].attrs["vehicle_miles"] is None and logs[0].attrs["engine_hours"] is None
    assert logs[0].attrs["lat"] == 41.3
    with pytest.raises(EldConflict, match="moving"):
        cab.store.set_status("on_duty", time_ms=T0 + 66 * MIN)
    t = T0 + 70 * MIN
    cab.hold(t, 4, 0.0)
    cab.store.set_status("yard_move", "moving trailer", time_ms=t + 5 * SEC)
    cab.hold(t + 10 * SEC, 20, 15.0)
    assert cab.store.snapshot().status == "yard_move"
    # Yard move ends at the next engine power cycle (indication reset).
    cab.feed(can(t + MIN, ENGINE_SPEED, 700.0), can(t + MIN + 2 * SEC, ENGINE_SPEED, 700.0))
    assert statuses(cab.events)[-1] == (t + MIN, "on_duty", "auto")


def test_yard_move_speed_cap_is_carrier_policy(tmp_path: Path) -> None:
    store = DutyStore(tmp_path / "eld.db", allow_yard_move=True)
    rec = EldRecorder(EldParams(yard_move_max_kmh=32.0), store)
    store.login("jsmith", time_ms=T0)
    store.set_status("yard_move", "yard", time_ms=T0 + 1)
    out = [e for i in range(5) for e in rec.feed(speed(T0 + SEC + i * SEC, 25.0))]
    assert out == []
    out = rec.feed(speed(T0 + 10 * SEC, 40.0))
    assert [(e.attrs["status"], e.attrs["reason"]) for e in out] == [
        ("driving", "yard_move_speed_exceeded")
    ]
    store.close()


def test_gnss_speed_only_when_can_speed_is_stale(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.feed(speed(T0, 0.0))
    # CAN says 0 and is fresh: a GNSS speed of 20 m/s is not believed.
    assert cab.feed(*(fix(T0 + i * SEC, mps=20.0) for i in range(1, 5))) == []
    # 5 s without CAN speed: GNSS takes over.
    out = cab.feed(fix(T0 + 6 * SEC, mps=20.0))
    assert [e.attrs["status"] for e in out] == ["driving"]
    # A flagged fix gives no speed (and no location).
    flagged = Position(T0 + 20 * SEC, {"lat": 1.0, "lon": 1.0, "speed_mps": 0.0, "flags": ["jump"]})
    cab.feed(flagged)
    assert cab.rec.vehicle.lat != 1.0


def test_bad_values_are_counted_not_fatal(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    bad = [
        speed(T0, float("nan")),
        speed(T0 + 1, -4.0),
        can(T0 + 2, VEHICLE_SPEED, "fast"),
        can(T0 + 3, ENGINE_SPEED, True),
        can(T0 + 4, ODOMETER, -1.0),
        Position(T0 + 5, {"lat": 95.0, "lon": 0.0, "valid": True}),
        Position(T0 + 5, {"lat": "north", "lon": 0.0, "valid": True}),
        Position(T0 + 6, {"lat": 1.0, "lon": 1.0, "speed_mps": "x"}),
    ]
    assert cab.feed(*bad) == []
    c = cab.rec.counters
    assert c[f"bad_value.{VEHICLE_SPEED}"] == 3
    assert c[f"bad_value.{ENGINE_SPEED}"] == 1
    assert c[f"bad_value.{ODOMETER}"] == 1
    assert c["bad_value.lat_lon"] == 2
    assert c["bad_value.speed_mps"] == 1
    assert cab.rec.feed("not an observation") == []  # type: ignore[arg-type]
    assert c["unknown_observation"] == 1
    assert not cab.rec.state.moving


def test_prompt_times_out_on_ticks_when_nothing_arrives(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.hold(T0, 5, 50.0)
    cab.hold(T0 + 5 * SEC, 4, 0.0)
    out = cab.rec.tick(T0 + 6 * MIN) + cab.rec.tick(T0 + 7 * MIN)
    assert [e.name for e in out] == ["eld_driving_prompt", "eld_duty_status"]
    assert out[1].attrs["status"] == "on_duty"


def test_unidentified_prompt_needs_a_login_to_answer(cab: Cab) -> None:
    cab.hold(T0, 5, 40.0)
    cab.hold(T0 + 5 * SEC, 5 * 60 + 5, 0.0)
    assert cab.store.snapshot().prompt_at_ms is not None
    with pytest.raises(EldConflict, match="log in first"):
        cab.store.answer_prompt(True, time_ms=T0 + 6 * MIN)
    cab.hold(T0 + 6 * MIN, 60, 0.0)
    assert [(e.attrs["driver_id"], e.attrs["status"]) for e in cab.named("eld_duty_status")] == [
        ("unidentified", "driving"),
        ("unidentified", "on_duty"),
    ]


def test_params_from_the_config_section() -> None:
    section = {"enabled": True, "ui_port": 8081, "driving_threshold_kmh": 6.0, "engine_on_s": 2}
    params = EldParams.from_section(section)
    assert params.driving_threshold_kmh == 6.0 and params.engine_on_s == 2
    with pytest.raises(ConfigError, match="must be a number"):
        EldParams.from_section({"standstill_kmh": "low"})


def test_engine_off_ends_motion_when_speed_falls_silent(cab: Cab) -> None:
    cab.store.login("jsmith", time_ms=T0)
    cab.feed(can(T0, ENGINE_SPEED, 700.0), can(T0 + 2 * SEC, ENGINE_SPEED, 700.0))
    cab.hold(T0 + 2 * SEC, 3, 40.0)
    assert cab.rec.state.moving
    # Everything goes quiet with the ignition; only the timer runs.
    out = cab.rec.tick(T0 + 30 * SEC)
    assert [e.name for e in out] == ["eld_engine_shut_down"]
    assert not cab.rec.state.moving and cab.rec.state.stopped_since_ms == T0 + 2 * SEC
    assert not cab.store.snapshot().moving
    out = cab.rec.tick(T0 + 2 * SEC + 5 * MIN) + cab.rec.tick(T0 + 2 * SEC + 6 * MIN)
    assert [e.name for e in out] == ["eld_driving_prompt", "eld_duty_status"]


def test_less_exact_fix_still_gives_location(cab: Cab) -> None:
    cab.feed(Position(T0, {"lat": 41.5, "lon": -72.5, "valid": True, "flags": ["high_hdop"]}))
    assert (cab.rec.vehicle.lat, cab.rec.vehicle.lon) == (41.5, -72.5)
    cab.feed(
        Position(T0 + SEC, {"lat": 0.0, "lon": 0.0, "valid": True, "flags": ["zero_position"]})
    )
    assert cab.rec.vehicle.lat == 41.5
