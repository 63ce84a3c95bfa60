"""Event detectors: pure ``step(state, reading, params) -> (state, events)`` machines.

``DetectorChain`` is the thin adapter around them: it keeps a ``VehicleState``, turns each
relevant observation into a ``Reading`` and runs the detectors in a fixed order
(ignition first, because idle and trip use its result). Observations that no detector
reads (most CAN signals) only update the vehicle state.
"""

from __future__ import annotations

from typing import Any

from agent.decode import j1939, obd
from agent.detectors import dtc, harsh, idle, ignition, overspeed, trip
from agent.detectors.common import DetectorParams, Reading
from agent.model import Event, Observation, Position, Signal
from agent.stages.vehicle_state import SPEED, VehicleState

__all__ = ["DetectorChain", "DetectorParams", "Reading"]

RPM = "Vehicle.Powertrain.CombustionEngine.Speed"
ODOMETER = "Vehicle.TraveledDistance"
ODOMETER_HR = "Vehicle.TraveledDistanceHighRes"  # J1939 HRVD, 5 m; preferred when present
FUEL_USED = "Vehicle.Powertrain.FuelSystem.AccumulatedConsumption"
FUEL_RATE = "Vehicle.Powertrain.FuelSystem.FuelRate"
FAULT_NAMES = frozenset({j1939.FAULTS_NAME, *(n for n, _ in obd.DTC_NAMES.values())})
RELEVANT = frozenset({RPM, SPEED, ODOMETER, ODOMETER_HR, FUEL_USED, FUEL_RATE}) | FAULT_NAMES
# Engine data arrives at up to 100 Hz; the detectors' timeouts are seconds long, so they
# run at most every GATE_MS for it (but always when rpm crosses the ignition threshold,
# on every speed sample and on every fault list, so event times stay exact).
GATE_MS = 100
# Values copied into a dtc_new event: the engine's condition when the fault appeared.
FREEZE_FRAME = (
    RPM,
    SPEED,
    "Vehicle.Powertrain.CombustionEngine.ECT",
    "Vehicle.Powertrain.CombustionEngine.EOP",
    "Vehicle.Powertrain.CombustionEngine.EngineHours",
    "Vehicle.Powertrain.CombustionEngine.EngineLoad",
    ODOMETER,
    FUEL_RATE,
    "Vehicle.LowVoltageBattery.CurrentVoltage",
)


class DetectorChain:
    """Feed observations in event-time order; get the events they complete."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or DetectorParams()
        self.state = VehicleState()
        self._ignition = ignition.IgnitionState()
        self._trip = trip.TripState()
        self._idle = idle.IdleState()
        self._harsh = harsh.HarshState()
        self._overspeed = overspeed.OverspeedState()
        self._dtc = dtc.DtcState()
        self._last_run_ms: int | None = None
        self._last_running = False

    def feed(self, obs: Observation) -> list[Event]:
        self.state.update(obs)
        if isinstance(obs, Signal):
            name = obs.name
            if name not in RELEVANT:
                return []
            if name != SPEED and name not in FAULT_NAMES:
                last = self._last_run_ms
                running = (
                    name == RPM and obs.value is not None and (obs.value > self.params.ignition_rpm)
                )
                crossed = name == RPM and running != self._last_running
                if not crossed and last is not None and 0 <= obs.time_ms - last < GATE_MS:
                    return []
                if name == RPM:
                    self._last_running = running
        elif not isinstance(obs, Position):
            return []
        self._last_run_ms = obs.time_ms
        reading = self._reading(obs)
        p = self.params
        self._ignition, events = ignition.step(self._ignition, reading, p)
        if self._ignition.on != reading.engine_on:
            reading = self._reading(obs)
        self._dtc, ev = dtc.step(self._dtc, reading, p)
        events += ev
        if isinstance(obs, Signal) and obs.name in FAULT_NAMES:
            return events
        self._idle, ev = idle.step(self._idle, reading, p)
        events += ev
        self._trip, ev = trip.step(self._trip, reading, p)
        events += ev
        self._harsh, ev = harsh.step(self._harsh, reading, p)
        events += ev
        self._overspeed, ev = overspeed.step(self._overspeed, reading, p)
        events += ev
        return events

    def _reading(self, obs: Observation) -> Reading:
        get = self.state.get
        rpm = get(RPM)
        speed = get(SPEED)
        odo = get(ODOMETER_HR) or get(ODOMETER)
        fuel = get(FUEL_USED)
        rate = get(FUEL_RATE)
        speed_new = False
        if speed is not None and speed[2] == obs.time_ms:
            speed_new = obs.name == SPEED if isinstance(obs, Signal) else speed[1] == "gnss"
        faults = None
        freeze = None
        if isinstance(obs, Signal) and obs.name in FAULT_NAMES:
            faults = (obs.name, obs.source, obs.value)
            freeze = self._freeze_frame()
        return Reading(
            time_ms=obs.time_ms,
            rpm=rpm[0] if rpm else None,
            rpm_ms=rpm[2] if rpm else None,
            speed_kmh=speed[0] if speed else None,
            speed_ms=speed[2] if speed else None,
            speed_source=speed[1] if speed else None,
            speed_new=speed_new,
            odometer_km=odo[0] if odo else None,
            fuel_used_l=fuel[0] if fuel else None,
            fuel_rate_lph=rate[0] if rate else None,
            engine_on=self._ignition.on,
            engine_since_ms=self._ignition.since_ms,
            faults=faults,
            freeze_frame=freeze,
        )

    def _freeze_frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in FREEZE_FRAME:
            entry = self.state.get(name)
            if entry is not None:
                out[name] = {"value": entry[0], "source": entry[1], "time_ms": entry[2]}
        return out
