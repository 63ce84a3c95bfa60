"""``EldRecorder``: runs the driving state machine (``agent.eld.driving.step``) over the
pipeline's observations and turns its intents into ELD events (lane ``eld``) with
sequence ids, driver, odometer, engine hours and location, via the ``DutyStore``.

Called from the pipeline thread (``feed``) and optionally from a timer (``tick``), both
serialised by a lock. The driver's own actions arrive through the duty store (the local
UI writes there) and are picked up at the next observation.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

from agent.eld.codes import EV_DUTY, EV_POWER_UP, EV_SHUT_DOWN
from agent.eld.driving import (
    DrivingState,
    EldParams,
    Tick,
    number,
    problem,
    step,
    usable_fix,
)
from agent.eld.duty import DutyStore
from agent.eld.records import VehicleSnapshot
from agent.model import Event, Position, Signal

ODOMETER = "Vehicle.TraveledDistance"  # km, total
ENGINE_HOURS = "Vehicle.Powertrain.CombustionEngine.EngineHours"  # h, total


class EldRecorder:
    def __init__(self, params: EldParams, duty: DutyStore) -> None:
        self.params = params
        self.duty = duty
        snap = duty.snapshot()
        self.state = DrivingState(
            duty=snap.status,
            engine_on=snap.engine_on,
            last_log_ms=snap.status_since_ms,
            prompt_at_ms=snap.prompt_at_ms,
        )
        self.vehicle: VehicleSnapshot = snap.vehicle
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    def feed(self, obs: Position | Signal) -> list[Event]:
        """One observation in (event-time order), ELD events out (already persisted in
        the duty store: hand them to the outbox)."""
        if not isinstance(obs, Position | Signal):
            self.counters["unknown_observation"] += 1
            return []
        with self._lock:
            self._observe(obs)
            return self._advance(obs)

    def tick(self, now_ms: int) -> list[Event]:
        """Let time pass without an observation (UTC ms): the prompt still times out when
        neither GNSS nor CAN is talking."""
        with self._lock:
            return self._advance(Tick(now_ms))

    def health(self) -> dict[str, object]:
        with self._lock:
            s = self.state
            return {
                "duty": s.duty,
                "moving": s.moving,
                "engine_on": s.engine_on,
                "prompt_open": s.prompt_at_ms is not None,
                **self.counters,
            }

    # ------------------------------------------------------------ inputs
    def _observe(self, obs: Position | Signal) -> None:
        why = problem(obs)
        if why:
            self.counters[why] += 1
        v = self.vehicle
        if isinstance(obs, Signal):
            if obs.name in (ODOMETER, ENGINE_HOURS) and obs.value is not None:
                value = number(obs.value)
                if value is None or value < 0:
                    self.counters[f"bad_value.{obs.name}"] += 1
                elif obs.name == ODOMETER:
                    self.vehicle = replace(v, odometer_km=value)
                else:
                    self.vehicle = replace(v, engine_hours=value)
            return
        if not usable_fix(obs.data):
            return
        raw_lat, raw_lon = obs.data.get("lat"), obs.data.get("lon")
        if raw_lat is None or raw_lon is None:
            return  # a fix without a position (e.g. time only)
        lat, lon = number(raw_lat), number(raw_lon)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.counters["bad_value.lat_lon"] += 1
            return
        self.vehicle = replace(
            v, lat=lat, lon=lon, fix_ms=obs.time_ms, fix_odometer_km=v.odometer_km
        )

    # ------------------------------------------------------------ the machine
    def _sync(self) -> DrivingState:
        """Bring the driver's changes (made in the cab since the last step) in."""
        snap = self.duty.snapshot()
        s = self.state
        if snap.status != s.duty:
            since = snap.status_since_ms
            last = s.last_log_ms if since is None else max(since, s.last_log_ms or since)
            s = replace(s, duty=snap.status, last_log_ms=last)
        if s.prompt_at_ms is not None and snap.prompt_at_ms is None:
            s = replace(s, prompt_at_ms=None)
        for answered_ms in self.duty.take_confirmations():
            # "Still driving": the 5 stationary minutes start again from the answer.
            if not s.moving:
                s = replace(s, stopped_since_ms=answered_ms, prompt_at_ms=None)
        return s

    def _advance(self, obs: Position | Signal | Tick) -> list[Event]:
        before = self._sync()
        s, intents = step(before, obs, self.params)
        for intent in intents:
            if intent.name == EV_POWER_UP:
                v = self.vehicle
                self.vehicle = replace(
                    v, power_up_odometer_km=v.odometer_km, power_up_engine_hours=v.engine_hours
                )
        self.duty.publish(moving=s.moving, vehicle=self.vehicle)
        out: list[Event] = []
        status = before.duty
        for intent in intents:
            event = self._record(intent, status)
            if event is None:
                # The driver changed the status in the cab meanwhile: theirs stands.
                self.counters["auto_status_superseded"] += 1
                s = replace(s, duty=self.duty.snapshot().status)
                continue
            if intent.name == EV_DUTY:
                status = intent.attrs["status"]
            out.append(event)
            self.counters[f"events.{intent.name}"] += 1
        if before.prompt_at_ms is not None and s.prompt_at_ms is None and s.moving:
            self.duty.clear_prompt()
        self.state = s
        return out

    def _record(self, intent: Event, status: str) -> Event | None:
        name = intent.name
        if name == EV_DUTY:
            return self.duty.record_auto(
                name,
                intent.time_ms,
                intent.attrs,
                expect_status=status,
                expect_prompt=intent.attrs.get("reason") == "prompt_unanswered",
            )
        engine_on = True if name == EV_POWER_UP else False if name == EV_SHUT_DOWN else None
        return self.duty.record_auto(name, intent.time_ms, intent.attrs, engine_on=engine_on)
