"""Vehicle model: a driver that follows a route (accelerates, brakes for corners,
limits and stops, dwells), and an engine model derived from it (gear and rpm, load,
fuel rate and totals, coolant warm-up, engine hours, odometer, battery voltage).

Units: distances in m (odometer in km), speeds in m/s internally (km/h in the state),
times in s of simulation time, temperatures in °C, volumes in L.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from sim.route import Route

GRAVITY = 9.81
AIR_DENSITY = 1.2  # kg/m³
DIESEL_KG_PER_L = 0.835
BSFC_KG_PER_KWH = 0.215  # brake-specific fuel consumption of a modern diesel
DRIVETRAIN_EFF = 0.9
ACCESSORY_KW = 2.0  # alternator, fan, air compressor while the engine runs
STOP_TOLERANCE_M = 0.3


@dataclass(frozen=True)
class VehicleParams:
    """A medium-duty delivery truck; all starting totals are configurable."""

    mass_kg: float = 7500.0
    rolling_coeff: float = 0.008
    drag_area_m2: float = 5.0  # Cd·A
    tire_radius_m: float = 0.5
    final_drive: float = 4.1
    gear_ratios: tuple[float, ...] = (6.9, 4.1, 2.5, 1.6, 1.2, 1.0, 0.8)
    idle_rpm: float = 650.0
    upshift_rpm: float = 1900.0
    downshift_rpm: float = 1100.0
    ref_torque_nm: float = 800.0  # J1939 engine reference torque
    idle_fuel_lph: float = 1.2
    max_accel_mps2: float = 1.3
    plan_decel_mps2: float = 1.5  # how hard the driver plans to brake
    max_decel_mps2: float = 3.0
    max_speed_kmh: float = 200.0  # global cap on top of the route's limits
    ambient_c: float = 15.0
    coolant_target_c: float = 85.0
    tank_l: float = 200.0
    fuel_level_pct: float = 60.0
    system_voltage: int = 12  # 12 or 24 V electrical system
    odometer_km: float = 48_213.4
    engine_hours: float = 2_315.6
    fuel_used_l: float = 18_450.5
    total_revolutions: float = 95_000_000.0


@dataclass(frozen=True)
class VehicleState:
    """One consistent snapshot of the vehicle (sim time in seconds since start)."""

    t_s: float
    phase: str  # idle | driving | dwell | arrived | off | finished
    lap: int
    dist_m: float  # along the route, this lap
    lat: float
    lon: float
    heading_deg: float
    speed_kmh: float
    accel_mps2: float
    odometer_km: float
    trip_km: float
    engine_on: bool
    rpm: float
    gear: int  # 0 = neutral
    torque_pct: float
    throttle_pct: float
    brake: bool
    parking_brake: bool
    coolant_c: float
    fuel_rate_lph: float
    fuel_used_l: float
    trip_fuel_l: float
    fuel_level_pct: float
    engine_hours: float
    total_revolutions: float
    battery_v: float
    altitude_m: float


@dataclass
class Scenario:
    """What happens around the drive (all in seconds of sim time)."""

    idle_before_s: float = 0.0
    end_dwell_s: float = 10.0
    engine_off_at_end: bool = False
    after_off_s: float = 5.0  # key still on after the engine stops at the end
    loop: bool = False
    parking_brake_min_dwell_s: float = 30.0  # shorter halts (lights) use the service brake


@dataclass
class Vehicle:
    """Steps the driver and the engine; ``step(dt)`` with dt ≤ ~0.2 s of sim time."""

    route: Route
    params: VehicleParams = field(default_factory=VehicleParams)
    scenario: Scenario = field(default_factory=Scenario)

    def __post_init__(self) -> None:
        if self.scenario.loop:
            self.route = self.route.closed()
        p = self.params
        self.t_s = 0.0
        self.lap = 0
        self.dist_m = 0.0
        self.v = 0.0
        self.accel = 0.0
        self.phase = "idle" if self.scenario.idle_before_s > 0 else "driving"
        self.phase_left_s = self.scenario.idle_before_s
        self.parking_brake = self.phase == "idle"
        self.engine_on = True
        self.gear = 0
        self.rpm = p.idle_rpm
        self.torque_pct = 0.0
        self.throttle_pct = 0.0
        self.brake = False
        self.coolant_c = p.ambient_c
        self.fuel_rate_lph = p.idle_fuel_lph
        self.fuel_used_l = p.fuel_used_l
        self.trip_fuel_l = 0.0
        self.fuel_in_tank_l = p.tank_l * p.fuel_level_pct / 100.0
        self.engine_hours = p.engine_hours
        self.revolutions = p.total_revolutions
        self.odometer_km = p.odometer_km
        self.trip_km = 0.0
        self._build_constraints()

    # ---------------------------------------------------------------- driver
    def _build_constraints(self) -> None:
        cons = list(self.route.corner_constraints())
        cons += [(s.dist_m, 0.0) for s in self.route.stops]
        cons.append((self.route.length_m, 0.0))
        cons.sort()
        self._cons = cons
        self._cons_dist = [c[0] for c in cons]
        # A stop at the very start is where we already stand.
        self._stops = [s for s in self.route.stops if s.dist_m > STOP_TOLERANCE_M]
        self._stops = [s for s in self._stops if s.dist_m < self.route.length_m - 1.0]
        self._next_stop = 0

    def _allowed_speed(self, s: float) -> float:
        p = self.params
        v_allow = min(self.route.limit_mps(s), p.max_speed_kmh / 3.6)
        start = bisect.bisect_right(self._cons_dist, s + 1e-6)
        for dist, v_max in self._cons[start:]:
            ahead = dist - s
            reach = math.sqrt(v_max * v_max + 2 * p.plan_decel_mps2 * ahead)
            if reach < v_allow:
                v_allow = reach
            if 2 * p.plan_decel_mps2 * ahead > 2500:  # this and all later ones allow > 50 m/s
                break
        return v_allow

    def _next_halt(self) -> tuple[float, float, str]:
        """(distance, dwell s, phase) of the next place where the vehicle stops."""
        if self._next_stop < len(self._stops):
            stop = self._stops[self._next_stop]
            return stop.dist_m, stop.dwell_s, "dwell"
        return self.route.length_m, self.scenario.end_dwell_s, "arrived"

    def _drive(self, dt: float) -> float:
        """Advance along the route; returns the distance covered in m."""
        p = self.params
        halt_at, dwell, halt_phase = self._next_halt()
        v_allow = self._allowed_speed(self.dist_m)
        if self.v < v_allow:
            accel_cap = max(0.3, p.max_accel_mps2 * (1.0 - self.v / 35.0))
            new_v = min(v_allow, self.v + accel_cap * dt)
        else:
            new_v = max(v_allow, self.v - p.max_decel_mps2 * dt)
        to_halt = halt_at - self.dist_m
        # Creep the last metre instead of approaching the stop asymptotically.
        if to_halt < 1.0:
            new_v = max(new_v, min(0.5, self.v))
        step = 0.5 * (self.v + new_v) * dt
        if step >= to_halt:
            step = max(0.0, to_halt)
            self._arrive(halt_phase, dwell)
            new_v = max(0.0, self.v - p.max_decel_mps2 * dt)  # bleeds off while standing
        self.accel = (new_v - self.v) / dt if dt > 0 else 0.0
        self.v = new_v
        self.dist_m += step
        return step

    def _arrive(self, phase: str, dwell: float) -> None:
        self.phase = phase
        self.phase_left_s = dwell
        self.parking_brake = dwell >= self.scenario.parking_brake_min_dwell_s
        if phase == "dwell":
            self._next_stop += 1

    def _after_phase(self) -> None:
        """The current halt is over: decide what comes next."""
        if self.phase in ("idle", "dwell"):
            self.phase = "driving"
        elif self.phase == "arrived":
            if self.scenario.loop:
                self.lap += 1
                self.dist_m = 0.0
                self._next_stop = 0
                self.phase = "driving"
            elif self.scenario.engine_off_at_end:
                self.engine_on = False
                self.parking_brake = True
                self.phase = "off"
                self.phase_left_s = self.scenario.after_off_s
                return
            else:
                self.phase = "finished"
        elif self.phase == "off":
            self.phase = "finished"
        self.parking_brake = False if self.phase == "driving" else self.parking_brake

    # ---------------------------------------------------------------- step
    def step(self, dt: float) -> None:
        """Advance the simulation by ``dt`` seconds."""
        if dt <= 0 or self.phase == "finished":
            return
        moved = 0.0
        if self.phase == "driving":
            moved = self._drive(dt)
        else:
            # The last bit of creep speed at a halt bleeds off within the brake limit.
            new_v = max(0.0, self.v - self.params.max_decel_mps2 * dt)
            self.accel = (new_v - self.v) / dt
            self.v = new_v
            self.phase_left_s -= dt
            if self.phase_left_s <= 0:
                self._after_phase()
        self.t_s += dt
        self.odometer_km += moved / 1000.0
        self.trip_km += moved / 1000.0
        self._engine(dt)

    def _engine(self, dt: float) -> None:
        p = self.params
        if not self.engine_on:
            self.rpm = 0.0
            self.gear = 0
            self.fuel_rate_lph = 0.0
            self.torque_pct = 0.0
            self.throttle_pct = 0.0
            self.brake = False
            self.coolant_c += (p.ambient_c - self.coolant_c) * dt / 1800.0
            return
        self._shift()
        if self.gear == 0:
            self.rpm = p.idle_rpm
        else:
            self.rpm = max(p.idle_rpm, self._rpm_in_gear(self.gear))
        v = self.v
        wheel_kw = (
            (
                p.mass_kg * self.accel
                + p.mass_kg * GRAVITY * p.rolling_coeff * (1.0 if v > 0 else 0.0)
                + 0.5 * AIR_DENSITY * p.drag_area_m2 * v * v
            )
            * v
            / 1000.0
        )
        engine_kw = max(0.0, wheel_kw) / DRIVETRAIN_EFF + ACCESSORY_KW
        omega = self.rpm * 2 * math.pi / 60.0
        self.torque_pct = min(100.0, 100.0 * engine_kw * 1000.0 / omega / p.ref_torque_nm)
        self.brake = self.accel < -0.3
        self.throttle_pct = 0.0 if wheel_kw <= 0 else min(100.0, self.torque_pct * 1.1)
        if wheel_kw < 0 and self.rpm > 900:
            self.fuel_rate_lph = 0.0  # overrun fuel cut while engine braking
        else:
            idle = p.idle_fuel_lph * self.rpm / p.idle_rpm
            self.fuel_rate_lph = idle + max(0.0, wheel_kw) / DRIVETRAIN_EFF * (
                BSFC_KG_PER_KWH / DIESEL_KG_PER_L
            )
        litres = self.fuel_rate_lph * dt / 3600.0
        self.fuel_used_l += litres
        self.trip_fuel_l += litres
        self.fuel_in_tank_l = max(0.0, self.fuel_in_tank_l - litres)
        self.engine_hours += dt / 3600.0
        self.revolutions += self.rpm * dt / 60.0
        tau = 240.0 if v > 0 else 420.0  # warms faster under load
        self.coolant_c += (p.coolant_target_c - self.coolant_c) * dt / tau

    def _rpm_in_gear(self, gear: int) -> float:
        p = self.params
        wheel_rpm = self.v / (2 * math.pi * p.tire_radius_m) * 60.0
        return wheel_rpm * p.final_drive * p.gear_ratios[gear - 1]

    def _shift(self) -> None:
        p = self.params
        if self.v <= 0.0:
            self.gear = 0 if self.phase != "driving" else 1
            return
        if self.gear == 0:
            self.gear = 1
        while self.gear < len(p.gear_ratios) and self._rpm_in_gear(self.gear) > p.upshift_rpm:
            self.gear += 1
        while self.gear > 1 and self._rpm_in_gear(self.gear) < p.downshift_rpm:
            self.gear -= 1

    @property
    def battery_v(self) -> float:
        scale = self.params.system_voltage / 12.0
        return (14.1 if self.engine_on else 12.6) * scale

    def snapshot(self) -> VehicleState:
        lat, lon, heading = self.route.position_at(self.dist_m)
        p = self.params
        return VehicleState(
            t_s=self.t_s,
            phase=self.phase,
            lap=self.lap,
            dist_m=self.dist_m,
            lat=lat,
            lon=lon,
            heading_deg=heading,
            speed_kmh=self.v * 3.6,
            accel_mps2=self.accel,
            odometer_km=self.odometer_km,
            trip_km=self.trip_km,
            engine_on=self.engine_on,
            rpm=self.rpm,
            gear=self.gear,
            torque_pct=self.torque_pct,
            throttle_pct=self.throttle_pct,
            brake=self.brake,
            parking_brake=self.parking_brake,
            coolant_c=self.coolant_c,
            fuel_rate_lph=self.fuel_rate_lph,
            fuel_used_l=self.fuel_used_l,
            trip_fuel_l=self.trip_fuel_l,
            fuel_level_pct=100.0 * self.fuel_in_tank_l / p.tank_l if p.tank_l > 0 else 0.0,
            engine_hours=self.engine_hours,
            total_revolutions=self.revolutions,
            battery_v=self.battery_v,
            altitude_m=self.route.altitude_m,
        )
