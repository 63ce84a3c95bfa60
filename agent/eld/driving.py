"""Automatic driving detection (49 CFR 395 Subpart B, Appendix A 4.3.1.2, 4.4.1, 4.5.1.2,
4.5.1.6) as a pure state machine: ``step(state, obs, params) -> (state, events)``.

The events returned are bare intents (name, time, ``status``/``origin`` for duty changes);
``agent.eld.recorder.EldRecorder`` gives them sequence ids, driver and vehicle data.

- In motion once the speed (km/h) exceeds ``driving_threshold_kmh`` (never above 5 mph);
  stopped after the speed stays at 0 mph (<= ``standstill_kmh``) for 3 consecutive s.
- While in motion the duty status becomes driving, unless personal conveyance or yard
  move is selected (4.4.1.1).
- Driving and stationary 5 min -> ``eld_driving_prompt``; no answer within 1 min ->
  on duty not driving (4.4.1.2; both times are fixed by the rule, not configurable).
- In motion with no duty-status change or intermediate log in the last 60 min ->
  ``eld_intermediate_log`` (4.5.1.2).
- Engine power-up / shut-down from engine speed (rpm), ``...CombustionEngine.IsRunning``
  or ``Vehicle.LowVoltageSystemState``, stamped at the time the change began (4.5.1.6).

Speed: CAN ``Vehicle.Speed`` (km/h); the GNSS ``speed_mps`` of a trusted fix only
when no CAN speed has been seen for ``can_speed_stale_s``. Times are UTC ms and never run
backwards inside the machine (an older observation is taken as happening "now").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import Any

from agent.eld.codes import (
    DRIVING,
    EV_DUTY,
    EV_INTERMEDIATE,
    EV_POWER_UP,
    EV_PROMPT,
    EV_SHUT_DOWN,
    OFF_DUTY,
    ON_DUTY,
    ORIGIN_AUTO,
    SPECIAL,
    YARD_MOVE,
)
from agent.errors import ConfigError
from agent.model import Event, Position, Signal
from agent.stages.quality import is_trusted

KMH_PER_MPH = 1.609344
MAX_THRESHOLD_KMH = 5 * KMH_PER_MPH  # 8.04672 km/h, Appendix A 4.3.1.2(a)

# Fixed by Appendix A; 4.4.1.2 forbids making the prompt times configurable.
STOP_CONFIRM_MS = 3_000
PROMPT_AFTER_MS = 5 * 60_000
PROMPT_ANSWER_MS = 60_000
INTERMEDIATE_MS = 60 * 60_000

VEHICLE_SPEED = "Vehicle.Speed"  # km/h
ENGINE_SPEED = "Vehicle.Powertrain.CombustionEngine.Speed"  # rpm
ENGINE_RUNNING = "Vehicle.Powertrain.CombustionEngine.IsRunning"  # bool
IGNITION_STATE = "Vehicle.LowVoltageSystemState"  # VSS: OFF, LOCK, ACC, ON, START
IGNITION_ON_STATES = frozenset({"ON", "START"})


@dataclass(frozen=True, slots=True)
class EldParams:
    """Tunable parts of the detection. Speeds km/h, times s, engine speed rpm."""

    driving_threshold_kmh: float = MAX_THRESHOLD_KMH  # > this = in motion; at most 5 mph
    standstill_kmh: float = 0.8  # <= this counts as 0 mph (rounds to 0 mph; GNSS noise)
    can_speed_stale_s: float = 5.0  # no CAN speed this long -> GNSS speed is used
    engine_rpm_min: float = 0.0  # engine speed above this = engine running
    engine_on_s: float = 1.0  # running evidence this long -> power-up
    engine_off_s: float = 5.0  # stopped evidence this long -> shut-down
    engine_silent_s: float = 10.0  # no engine evidence this long while on -> shut-down
    yard_move_max_kmh: float = 0.0  # > this in yard move -> driving (carrier policy; 0 = off)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"eld parameter {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"eld parameter {f.name} must be >= 0, got {value!r}")
        if not 0 < self.driving_threshold_kmh <= MAX_THRESHOLD_KMH + 1e-9:
            raise ConfigError(
                f"eld driving_threshold_kmh must be > 0 and at most {MAX_THRESHOLD_KMH:.5f} "
                f"(5 mph, 49 CFR 395 App. A 4.3.1.2), got {self.driving_threshold_kmh!r}"
            )
        if self.standstill_kmh >= self.driving_threshold_kmh:
            raise ConfigError("eld standstill_kmh must be below driving_threshold_kmh")
        if 0 < self.yard_move_max_kmh <= self.driving_threshold_kmh:
            raise ConfigError("eld yard_move_max_kmh must be 0 (off) or above the threshold")

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> EldParams:
        """Build from the whole ``[eld]`` config section, taking only this class's keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls.from_dict({k: v for k, v in section.items() if k in known})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EldParams:
        """Build from a config mapping; unknown keys raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown eld parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passing with nothing observed (lets the prompt time out on a silent bus)."""

    time_ms: int


@dataclass(frozen=True, slots=True)
class DrivingState:
    """Everything ``step`` remembers. ``duty`` mirrors the duty store (the driver may
    change it from the cab between steps). Times are UTC ms."""

    duty: str = OFF_DUTY
    now_ms: int | None = None  # newest time seen
    moving: bool = False
    zero_since_ms: int | None = None  # in motion, speed at 0 since (stop not yet confirmed)
    stopped_since_ms: int | None = None  # stationary since (None while moving)
    last_log_ms: int | None = None  # last duty-status change or intermediate log
    prompt_at_ms: int | None = None  # open "still driving?" prompt, shown at
    can_speed_ms: int | None = None  # newest CAN vehicle speed
    engine_on: bool = False
    engine_change_ms: int | None = None  # evidence first contradicted ``engine_on`` at
    evidence_ms: int | None = None  # newest engine evidence (any value)
    ignition_ms: int | None = None  # newest ignition/IsRunning signal (beats rpm)


def number(value: Any) -> float | None:
    """A finite real number, or None (bools, strings, NaN are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def usable_fix(data: dict[str, Any]) -> bool:
    """A fix good enough for speed and location: valid and no disqualifying quality flag
    (few satellites / high HDOP only make it less exact: still used, as vehicle state does)."""
    return is_trusted(data)


def problem(obs: Position | Signal | Tick) -> str | None:
    """Why ``step`` will ignore a value in ``obs`` (for counting), or None if it is fine.
    ``None`` values ("not available") are not problems."""
    if isinstance(obs, Signal):
        if obs.value is None:
            return None
        if obs.name in (VEHICLE_SPEED, ENGINE_SPEED):
            v = number(obs.value)
            if v is None or v < 0:
                return f"bad_value.{obs.name}"
        elif (obs.name == ENGINE_RUNNING and not isinstance(obs.value, bool)) or (
            obs.name == IGNITION_STATE and not isinstance(obs.value, str)
        ):
            return f"bad_value.{obs.name}"
    elif isinstance(obs, Position):
        speed = obs.data.get("speed_mps")
        if speed is not None and ((v := number(speed)) is None or v < 0):
            return "bad_value.speed_mps"
    return None


def step(
    state: DrivingState, obs: Position | Signal | Tick, params: EldParams
) -> tuple[DrivingState, list[Event]]:
    """Advance the machine by one observation; returns the new state and the intents."""
    t = obs.time_ms if state.now_ms is None else max(obs.time_ms, state.now_ms)
    s = replace(state, now_ms=t)
    events: list[Event] = []
    s = _engine(s, obs, t, params, events)
    speed, s = _speed_kmh(s, obs, t, params)
    if speed is not None:
        s = _motion(s, speed, t, params, events)
    elif not s.moving and s.stopped_since_ms is None:
        s = replace(s, stopped_since_ms=t)
    s = _timers(s, t, events)
    return s, events


def _duty(s: DrivingState, t: int, status: str, events: list[Event], **extra: Any) -> DrivingState:
    events.append(Event(t, EV_DUTY, {"status": status, "origin": ORIGIN_AUTO, **extra}))
    return replace(s, duty=status, last_log_ms=t)


def _speed_kmh(
    s: DrivingState, obs: Position | Signal | Tick, t: int, params: EldParams
) -> tuple[float | None, DrivingState]:
    if isinstance(obs, Signal) and obs.name == VEHICLE_SPEED:
        v = number(obs.value)
        if v is None or v < 0:
            return None, s
        return v, replace(s, can_speed_ms=t)
    if isinstance(obs, Position) and usable_fix(obs.data):
        v = number(obs.data.get("speed_mps"))
        if v is None or v < 0:
            return None, s
        if s.can_speed_ms is None or t - s.can_speed_ms > params.can_speed_stale_s * 1000:
            return v * 3.6, s
    return None, s


def _evidence(
    s: DrivingState, obs: Position | Signal | Tick, t: int, params: EldParams
) -> tuple[bool | None, DrivingState]:
    """(running?, new state) from one observation; running is None when it says nothing."""
    if not isinstance(obs, Signal) or obs.value is None:
        return None, s
    if obs.name == ENGINE_RUNNING and isinstance(obs.value, bool):
        return obs.value, replace(s, ignition_ms=t, evidence_ms=t)
    if obs.name == IGNITION_STATE and isinstance(obs.value, str):
        on = obs.value.strip().upper() in IGNITION_ON_STATES
        return on, replace(s, ignition_ms=t, evidence_ms=t)
    if obs.name == ENGINE_SPEED:
        rpm = number(obs.value)
        if rpm is None or rpm < 0:
            return None, s
        # A fresh ignition signal is the better witness (rpm is 0 before cranking).
        if s.ignition_ms is not None and t - s.ignition_ms <= params.engine_silent_s * 1000:
            return None, s
        return rpm > params.engine_rpm_min, replace(s, evidence_ms=t)
    return None, s


def _engine(
    s: DrivingState, obs: Position | Signal | Tick, t: int, params: EldParams, events: list[Event]
) -> DrivingState:
    running, s = _evidence(s, obs, t, params)
    if s.engine_on and s.evidence_ms is None:
        s = replace(s, evidence_ms=t)  # restored "on" after a restart: silence counts from now
    if running is None:
        silent_ms = params.engine_silent_s * 1000
        if s.engine_on and s.evidence_ms is not None and t - s.evidence_ms > silent_ms:
            # The bus went quiet: the engine stopped when its last word arrived.
            events.append(Event(s.evidence_ms, EV_SHUT_DOWN))
            return _parked(replace(s, engine_on=False, engine_change_ms=None), s.evidence_ms)
        return s
    if running == s.engine_on:
        return s if s.engine_change_ms is None else replace(s, engine_change_ms=None)
    since = t if s.engine_change_ms is None else s.engine_change_ms
    need_ms = (params.engine_on_s if running else params.engine_off_s) * 1000
    if t - since < need_ms:
        return replace(s, engine_change_ms=since)
    s = replace(s, engine_on=running, engine_change_ms=None)
    if not running:
        events.append(Event(since, EV_SHUT_DOWN))
        return _parked(s, since)
    events.append(Event(since, EV_POWER_UP))
    if s.duty == YARD_MOVE:
        # Special-category indications end at a power cycle (App. A 4.3.2.2.2, 4.4.1.1); the
        # personal-conveyance exception (driver may confirm it) keeps PC as it is.
        s = _duty(s, since, ON_DUTY, events, reason="yard_move_ended_by_power_cycle")
    return s


def _parked(s: DrivingState, since: int) -> DrivingState:
    """Engine off: the vehicle is taken as stopped since then, so a speed source that fell
    silent with the ignition cannot leave it "in motion" (the next speed value corrects
    this if it still rolls)."""
    if not s.moving:
        return s
    return replace(s, moving=False, zero_since_ms=None, stopped_since_ms=since)


def _motion(
    s: DrivingState, kmh: float, t: int, params: EldParams, events: list[Event]
) -> DrivingState:
    if not s.moving:
        if kmh > params.driving_threshold_kmh:
            s = replace(
                s, moving=True, zero_since_ms=None, stopped_since_ms=None, prompt_at_ms=None
            )
        elif s.stopped_since_ms is None:
            s = replace(s, stopped_since_ms=t)
    elif kmh <= params.standstill_kmh:
        since = t if s.zero_since_ms is None else s.zero_since_ms
        if t - since >= STOP_CONFIRM_MS:
            s = replace(s, moving=False, zero_since_ms=None, stopped_since_ms=since)
        else:
            s = replace(s, zero_since_ms=since)
    elif s.zero_since_ms is not None:
        s = replace(s, zero_since_ms=None)
    if not s.moving:
        return s
    if s.duty == YARD_MOVE and 0 < params.yard_move_max_kmh < kmh:
        return _duty(s, t, DRIVING, events, reason="yard_move_speed_exceeded")
    if s.duty != DRIVING and s.duty not in SPECIAL:
        return _duty(s, t, DRIVING, events)
    return s


def _timers(s: DrivingState, t: int, events: list[Event]) -> DrivingState:
    if s.moving:
        if s.last_log_ms is None or t - s.last_log_ms >= INTERMEDIATE_MS:
            events.append(Event(t, EV_INTERMEDIATE))
            s = replace(s, last_log_ms=t)
        return s
    if s.duty != DRIVING:
        return s if s.prompt_at_ms is None else replace(s, prompt_at_ms=None)
    if s.prompt_at_ms is not None:
        if t - s.prompt_at_ms >= PROMPT_ANSWER_MS:
            s = _duty(replace(s, prompt_at_ms=None), t, ON_DUTY, events, reason="prompt_unanswered")
        return s
    if s.stopped_since_ms is not None and t - s.stopped_since_ms >= PROMPT_AFTER_MS:
        events.append(Event(t, EV_PROMPT, {"stopped_since_ms": s.stopped_since_ms}))
        s = replace(s, prompt_at_ms=t)
    return s
