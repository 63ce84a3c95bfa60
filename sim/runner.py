"""The simulator's library API: ``SimConfig`` says what to simulate, ``Simulator`` runs
it on a background thread — the vehicle model in sim time (``speedup``× real time),
one NMEA fix per second of sim time, J1939 broadcasts at real CAN rates and an
optional OBD-II ECU — and exposes a thread-safe ``state`` snapshot and counters.

    sim = Simulator(SimConfig(route="chicago_west_loop", speedup=20,
                              can_interface="virtual", can_channel="demo"))
    sim.start(); print(sim.nmea_endpoint); sim.wait_finished(60); sim.stop()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import can

from sim.faults import Fault, parse_fault
from sim.j1939_out import J1939Ecu
from sim.nmea_out import GpsReceiver, format_fix
from sim.nmea_sinks import NmeaSink, open_sink
from sim.obd_ecu import ObdEcu, ObdResponder
from sim.route import Route, load_route
from sim.vehicle import Scenario, Vehicle, VehicleParams, VehicleState
from sim.vin import validate_vin

log = logging.getLogger(__name__)

TICK_S = 0.05  # wall-clock period of the main loop (EEC1 goes out every tick)
MAX_SUBSTEP_US = 100_000  # physics step: 0.1 s of sim time
MAX_CATCHUP_S = 1.0  # after a stall, do not try to replay more than this much wall time
DEFAULT_VIN = "1FVACWDU4BHBB1234"


@dataclass
class SimConfig:
    """Everything a run needs. Times are seconds of sim time unless named ``*_wall_s``."""

    route: str | Path | Route = "chicago_west_loop"  # shipped name, JSON path or Route
    speedup: float = 1.0
    start: datetime | None = None  # UTC sim start; default now (whole second)
    duration_s: float | None = None  # stop after this much sim time; default: route end
    loop: bool = False
    idle_before_s: float = 0.0
    end_dwell_s: float = 10.0
    engine_off_at_end: bool = False
    speed_limit_kmh: float | None = None  # global cap on top of the route's limits
    nmea: str = "pty"  # pty | tcp://HOST:PORT | none | path of a tty or file
    gps_noise_m: float = 0.0
    talker: str = "GP"
    seed: int | None = None
    can_interface: str | None = "virtual"  # None or "none": no CAN at all
    can_channel: str = "fleetwire-sim"
    can_options: dict[str, Any] = field(default_factory=dict)  # extra can.Bus kwargs (port=...)
    j1939: bool = True
    obd: bool = False
    source_address: int = 0x00
    vin: str = DEFAULT_VIN
    vin_interval_wall_s: float = 10.0  # VIN BAM broadcast period (0 = on request only)
    faults: list[str] = field(default_factory=list)  # "SPN:FMI[:at_s]" / "P0301[:at_s]"
    params: VehicleParams = field(default_factory=VehicleParams)

    def validate(self) -> None:
        if not (math.isfinite(self.speedup) and 0 < self.speedup <= 1000):
            raise ValueError(f"speedup must be in (0, 1000], got {self.speedup}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        for name in ("idle_before_s", "end_dwell_s", "gps_noise_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number ≥ 0, got {value}")
        if self.speed_limit_kmh is not None and not 5 <= self.speed_limit_kmh <= 200:
            raise ValueError(f"speed_limit_kmh must be 5..200, got {self.speed_limit_kmh}")
        if not 0 <= self.source_address <= 0xFD:
            raise ValueError(f"source_address must be 0..253, got {self.source_address}")
        if len(self.talker) != 2 or not self.talker.isalpha():
            raise ValueError(f"talker must be two letters such as GP or GN, got {self.talker!r}")
        if self.params.system_voltage not in (12, 24):
            raise ValueError("system_voltage must be 12 or 24")
        validate_vin(self.vin)


@dataclass(frozen=True)
class SimState(VehicleState):
    """A vehicle snapshot plus the UTC sim time and output counters."""

    utc: datetime
    nmea_sentences: int
    can_frames: int
    finished: bool


class Simulator:
    """Runs one simulation; ``start()`` opens the outputs, ``stop()`` closes them."""

    def __init__(self, config: SimConfig) -> None:
        config.validate()
        self.config = config
        route = config.route if isinstance(config.route, Route) else load_route(config.route)
        self.route = route
        self.faults: list[Fault] = [parse_fault(f) for f in config.faults]
        params = config.params
        if config.speed_limit_kmh is not None:
            params = dataclasses.replace(params, max_speed_kmh=config.speed_limit_kmh)
        scenario = Scenario(
            idle_before_s=config.idle_before_s,
            end_dwell_s=config.end_dwell_s,
            engine_off_at_end=config.engine_off_at_end,
            loop=config.loop,
        )
        self.vehicle = Vehicle(route, params, scenario)
        self.gps = GpsReceiver(
            config.gps_noise_m, seed=config.seed, initial_course_deg=route.bearings[0]
        )
        start = config.start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("start time must carry a time zone (UTC)")
        self.start_utc = start.astimezone(UTC).replace(microsecond=0)
        self.vin = validate_vin(config.vin)

        self._lock = threading.Lock()
        self._bus_lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: NmeaSink | None = None
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._j1939: J1939Ecu | None = None
        self._obd: ObdEcu | None = None
        self._sim_us = 0
        self._started = False
        self._stopped = False
        self.can_frames = 0
        self.can_errors = 0
        self.fixes = 0
        self._state = self._make_state()

    # ---------------------------------------------------------------- public
    @property
    def nmea_endpoint(self) -> str:
        """The pty slave path or ``socket://host:port`` URL readers open (after start)."""
        return self._sink.endpoint if self._sink else ""

    @property
    def can_endpoint(self) -> dict[str, Any] | None:
        iface = self.config.can_interface
        if not iface or iface == "none":
            return None
        return {"interface": iface, "channel": self.config.can_channel, **self.config.can_options}

    @property
    def state(self) -> SimState:
        with self._lock:
            return self._state

    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fixes": self.fixes,
            "can_frames": self.can_frames,
            "can_errors": self.can_errors,
        }
        if self._sink is not None:
            out["nmea"] = self._sink.counters()
        if self._j1939 is not None:
            out["j1939_requests_answered"] = self._j1939.requests_answered
            out["j1939_requests_nacked"] = self._j1939.requests_nacked
        if self._obd is not None:
            out["obd"] = {
                "requests": self._obd.requests,
                "responses": self._obd.responses,
                "errors": self._obd.errors,
            }
        return out

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a Simulator can be started once")
        self._started = True
        try:
            self._sink = open_sink(self.config.nmea)
            if self.can_endpoint is not None:
                self._open_can()
        except Exception:
            self.stop()
            raise
        self._emit_fix()  # the fix for t = 0
        self._publish()
        self._thread = threading.Thread(target=self._run, name="sim-main", daemon=True)
        self._thread.start()

    def wait_finished(self, timeout: float | None = None) -> bool:
        """True once the route (or duration) is done; False on timeout."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """Stop the loop and close the pty / TCP server / bus; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if self._obd is not None:
            self._obd.stop()
        if self._notifier is not None:
            with contextlib.suppress(Exception):
                self._notifier.stop()
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.shutdown()
        if self._sink is not None:
            with contextlib.suppress(OSError):
                self._sink.close()
        self._publish()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- CAN
    def _open_can(self) -> None:
        cfg = self.config
        try:
            self._bus = can.Bus(
                interface=cfg.can_interface, channel=cfg.can_channel, **cfg.can_options
            )
        except (can.CanError, OSError, ValueError, ImportError) as exc:
            raise OSError(
                f"cannot open CAN bus {cfg.can_interface}:{cfg.can_channel}: {exc}"
            ) from exc
        listeners: list[Any] = []
        if cfg.j1939:
            self._j1939 = J1939Ecu(
                cfg.source_address,
                vin=self.vin,
                faults=self.faults,
                vin_interval_s=cfg.vin_interval_wall_s,
            )
            listeners.append(self._on_j1939_frame)
        if cfg.obd:
            responder = ObdResponder(self.vin, self.faults)
            self._obd = ObdEcu(responder, lambda: self.state, self._send)
            listeners.append(self._obd.feed)
            self._obd.start()
        if listeners:
            self._notifier = can.Notifier(self._bus, listeners, timeout=0.1)

    def _on_j1939_frame(self, msg: can.Message) -> None:
        if msg.is_extended_id and self._j1939 is not None:
            with self._lock:  # the request queue is read by the main loop
                self._j1939.request(msg.arbitration_id, bytes(msg.data))

    def _send(self, msg: can.Message) -> None:
        bus = self._bus
        if bus is None:
            return
        try:
            with self._bus_lock:
                bus.send(msg, timeout=0.1)
                self.can_frames += 1
        except (can.CanError, OSError, ValueError) as exc:
            with self._bus_lock:
                self.can_errors += 1
            log.debug("CAN send failed: %s", exc)

    def _send_j1939(self, now: float) -> None:
        if self._j1939 is None:
            return
        state = self.state
        if state.finished:
            return
        with self._lock:
            frames = self._j1939.due(now, state)
        for arbitration_id, data in frames:
            self._send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True))

    # ---------------------------------------------------------------- loop
    def _make_state(self) -> SimState:
        vs = self.vehicle.snapshot()
        values = {f.name: getattr(vs, f.name) for f in dataclasses.fields(VehicleState)}
        sink = self._sink.counters()["sentences"] if getattr(self, "_sink", None) else 0
        return SimState(
            **values,
            utc=self.start_utc + timedelta(microseconds=self._sim_us),
            nmea_sentences=sink,
            can_frames=self.can_frames,
            finished=self._finished.is_set(),
        )

    def _publish(self) -> None:
        state = self._make_state()
        with self._lock:
            self._state = state

    def _emit_fix(self) -> None:
        vs = self.vehicle.snapshot()
        fix = self.gps.fix(
            self.start_utc + timedelta(microseconds=self._sim_us),
            vs.lat,
            vs.lon,
            vs.speed_kmh,
            vs.heading_deg,
            vs.altitude_m,
            self.route.geoid_sep_m,
        )
        if self._sink is not None:
            self._sink.write(format_fix(fix, self.config.talker))
        self.fixes += 1

    def _done(self) -> bool:
        dur = self.config.duration_s
        if dur is not None and self._sim_us >= round(dur * 1e6):
            return True
        return self.vehicle.phase == "finished"

    def _advance_to(self, target_us: int) -> None:
        """Step the vehicle to ``target_us``, emitting a fix at every whole sim second."""
        dur = self.config.duration_s
        if dur is not None:
            target_us = min(target_us, round(dur * 1e6))
        while self._sim_us < target_us and not self._done():
            next_second = (self._sim_us // 1_000_000 + 1) * 1_000_000
            dt_us = min(MAX_SUBSTEP_US, next_second - self._sim_us, target_us - self._sim_us)
            self.vehicle.step(dt_us / 1e6)
            self._sim_us += dt_us
            if self._sim_us % 1_000_000 == 0:
                self._emit_fix()

    def _run(self) -> None:
        speedup = self.config.speedup
        wall0 = time.monotonic()
        sim_base_us = 0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                elapsed = now - wall0
                target = sim_base_us + round(elapsed * speedup * 1e6)
                if target - self._sim_us > MAX_CATCHUP_S * speedup * 1e6:
                    # We fell behind (CPU starved): slow sim time down instead of bursting.
                    sim_base_us = self._sim_us - round(elapsed * speedup * 1e6)
                    target = self._sim_us + round(MAX_CATCHUP_S * speedup * 1e6)
                self._advance_to(target)
                if self._done():
                    self._finished.set()
                self._publish()
                self._send_j1939(now)
                if self._finished.is_set():
                    return
                self._stop.wait(max(0.0, TICK_S - (time.monotonic() - now)))
        except Exception:
            log.exception("simulator loop failed")
            self._finished.set()
            self._publish()
