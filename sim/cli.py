"""Command line of the simulator: ``fleetwire-sim run`` drives a vehicle and serves its
GPS (NMEA) and engine (J1939 / OBD-II) traffic; ``fleetwire-sim routes`` lists routes."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType

from sim.faults import parse_fault
from sim.route import RouteError, list_routes, load_route
from sim.runner import DEFAULT_VIN, SimConfig, Simulator
from sim.vehicle import VehicleParams

EXAMPLES = """\
examples:
  # drive the shipped Chicago loop 10x faster; GPS on a new pty, J1939 on a virtual bus
  fleetwire-sim run --speedup 10 --can-channel demo

  # GPS as a TCP server for pyserial socket://, OBD-II ECU instead of J1939, on vcan0
  fleetwire-sim run --nmea tcp://127.0.0.1:10110 --can-interface socketcan \\
      --can-channel vcan0 --no-j1939 --obd

  # morning start: 5 min idling, a coolant fault after 10 min, engine off at the depot
  fleetwire-sim run --idle-before-s 300 --fault 110:0:600 --fault P0217:600 \\
      --engine-off-at-end --start 2026-03-02T06:30:00Z

  # across processes: python-can udp_multicast (the agent opens the same channel)
  fleetwire-sim run --can-interface udp_multicast --can-channel 239.74.163.2 --loop

The first stdout line is JSON: {"nmea": "<pty path or socket:// url>", "can": {...}}.
Progress goes to stderr; SIGINT / SIGTERM stop the run cleanly.
"""


def _iso_utc(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fault(text: str) -> str:
    try:
        parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _sa(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address like 0 or 0x00") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetwire-sim",
        description=(
            "Vehicle simulator for fleetwire: drives a truck along a route and writes its "
            "GPS as NMEA 0183 (RMC/GGA/VTG/GSA, 1 fix per sim second) to a pty, a TCP "
            "server or a file, and its engine data as J1939 broadcasts and/or an OBD-II "
            "ECU on a python-can bus."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("routes", help="list the shipped routes")
    run = sub.add_parser(
        "run",
        help="run a simulation",
        description="Run a simulation until the route ends, --duration-s passes or a signal.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = run.add_argument_group("drive")
    g.add_argument("--route", default="chicago_west_loop", help="shipped route name or JSON path")
    g.add_argument("--speedup", type=float, default=1.0, help="sim time runs N× real time")
    g.add_argument("--start", type=_iso_utc, help="sim start time, ISO 8601 (default: now UTC)")
    g.add_argument("--duration-s", type=float, help="stop after this many sim seconds")
    g.add_argument("--loop", action="store_true", help="repeat the route (closing it if open)")
    g.add_argument("--idle-before-s", type=float, default=0.0, help="idle with engine on first")
    g.add_argument("--end-dwell-s", type=float, default=10.0, help="idle at the end of the route")
    g.add_argument("--engine-off-at-end", action="store_true", help="switch the engine off")
    g.add_argument("--speed-limit-kmh", type=float, help="global cap on the route's limits")
    g = run.add_argument_group("GPS")
    g.add_argument(
        "--nmea",
        default="pty",
        help="pty (default) | tcp://HOST:PORT (0 = free port) | none | path",
    )
    g.add_argument("--gps-noise-m", type=float, default=0.0, help="position error σ in metres")
    g.add_argument("--talker", default="GP", help="NMEA talker id (GP, GN, ...)")
    g.add_argument("--seed", type=int, help="random seed for noise and satellites")
    g = run.add_argument_group("CAN")
    g.add_argument(
        "--can-interface", default="virtual", help="python-can interface, or none (default virtual)"
    )
    g.add_argument("--can-channel", default="fleetwire-sim", help="python-can channel")
    g.add_argument(
        "--can-port", type=int, help="UDP port of a udp_multicast bus (keeps runs apart)"
    )
    g.add_argument("--no-j1939", dest="j1939", action="store_false", help="no J1939 broadcast")
    g.add_argument("--obd", action="store_true", help="answer OBD-II requests on 7DF/7E0")
    g.add_argument("--source-address", type=_sa, default=0, help="J1939 source address")
    g.add_argument("--vin", default=DEFAULT_VIN, help="17-character VIN")
    g.add_argument(
        "--vin-interval-s", type=float, default=10.0, help="VIN BAM period, wall s (0: on request)"
    )
    g.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        help="inject SPN:FMI[:at_s] (DM1) or P0301[:at_s] (OBD); repeatable",
    )
    g = run.add_argument_group("vehicle starting values")
    d = VehicleParams()
    g.add_argument("--odometer-km", type=float, default=d.odometer_km)
    g.add_argument("--engine-hours", type=float, default=d.engine_hours)
    g.add_argument("--fuel-used-l", type=float, default=d.fuel_used_l)
    g.add_argument("--fuel-level-pct", type=float, default=d.fuel_level_pct)
    g.add_argument("--ambient-c", type=float, default=d.ambient_c)
    g.add_argument("--system-voltage", type=int, choices=(12, 24), default=d.system_voltage)
    g = run.add_argument_group("output")
    g.add_argument("--progress-s", type=float, default=5.0, help="stderr progress period (wall)")
    g.add_argument("--log-level", default="WARNING", help="Python logging level")
    return parser


def _config(args: argparse.Namespace) -> SimConfig:
    for name in ("odometer_km", "engine_hours", "fuel_used_l"):
        if not getattr(args, name) >= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be ≥ 0")
    if not 0 <= args.fuel_level_pct <= 100:
        raise ValueError("--fuel-level-pct must be 0..100")
    params = VehicleParams(
        odometer_km=args.odometer_km,
        engine_hours=args.engine_hours,
        fuel_used_l=args.fuel_used_l,
        fuel_level_pct=args.fuel_level_pct,
        ambient_c=args.ambient_c,
        system_voltage=args.system_voltage,
    )
    iface = None if args.can_interface in ("", "none") else args.can_interface
    return SimConfig(
        route=args.route,
        speedup=args.speedup,
        start=args.start,
        duration_s=args.duration_s,
        loop=args.loop,
        idle_before_s=args.idle_before_s,
        end_dwell_s=args.end_dwell_s,
        engine_off_at_end=args.engine_off_at_end,
        speed_limit_kmh=args.speed_limit_kmh,
        nmea=args.nmea,
        gps_noise_m=args.gps_noise_m,
        talker=args.talker.upper(),
        seed=args.seed,
        can_interface=iface,
        can_channel=args.can_channel,
        can_options={} if args.can_port is None else {"port": args.can_port},
        j1939=args.j1939,
        obd=args.obd,
        source_address=args.source_address,
        vin=args.vin,
        vin_interval_wall_s=args.vin_interval_s,
        faults=list(args.fault),
        params=params,
    )


def _progress(sim: Simulator) -> str:
    s = sim.state
    return (
        f"t={s.t_s:.0f}s {s.utc:%H:%M:%S}Z {s.phase} lap={s.lap} "
        f"dist={s.dist_m / 1000:.2f}km speed={s.speed_kmh:.1f}km/h rpm={s.rpm:.0f} "
        f"gear={s.gear} coolant={s.coolant_c:.0f}C odo={s.odometer_km:.2f}km "
        f"nmea={s.nmea_sentences} can={s.can_frames}"
    )


def _cmd_routes() -> int:
    for path in list_routes():
        try:
            route = load_route(path)
        except RouteError as exc:
            print(f"{path.stem}\tBROKEN: {exc}")
            continue
        print(
            f"{path.stem}\t{route.length_m / 1000:.2f} km\t{len(route.points)} points\t"
            f"{len(route.stops)} stops\t{route.name}\t{route.source}"
        )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        sim = Simulator(_config(args))
        sim.start()
    except (ValueError, OSError) as exc:  # RouteError is a ValueError
        print(f"fleetwire-sim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        print(json.dumps({"nmea": sim.nmea_endpoint or None, "can": sim.can_endpoint}), flush=True)
        next_progress = time.monotonic() + args.progress_s
        while not stop.is_set():
            if sim.wait_finished(0.2):
                stop.wait(0.5)  # let readers drain the last sentences before we close
                break
            if args.progress_s > 0 and time.monotonic() >= next_progress:
                print(_progress(sim), file=sys.stderr, flush=True)
                next_progress += args.progress_s
        print(_progress(sim), file=sys.stderr, flush=True)
        print(json.dumps({"finished": sim.state.finished, **sim.counters()}), file=sys.stderr)
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "routes":
        return _cmd_routes()
    return _cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
