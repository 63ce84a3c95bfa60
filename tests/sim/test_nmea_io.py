"""GPS output read back the way the agent reads it: pyserial on the simulator's pty
and on its TCP server (``socket://``), parsed and checksum-checked with pynmea2."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pynmea2
import pytest
import serial

from sim.route import load_route
from sim.runner import SimConfig, Simulator

START = datetime(2026, 3, 2, 6, 30, 0, tzinfo=UTC)


def _read_lines(port: serial.SerialBase, sim: Simulator, limit_s: float = 30.0) -> list[str]:
    """Every line until the simulation has finished and the port has gone quiet."""
    lines: list[str] = []
    deadline = time.monotonic() + limit_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        raw = port.readline()
        if raw:
            lines.append(raw.decode("ascii"))
            quiet_since = None
            continue
        if sim.wait_finished(0):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.3:
                break
    return lines


def _route_distance(route_file: Path, lat: float, lon: float) -> float:
    """Independent flat-earth distance in metres from a point to the route polyline."""
    route = load_route(route_file)
    k = 111_320.0
    best = float("inf")
    for (a_lat, a_lon), (b_lat, b_lon) in zip(route.points, route.points[1:], strict=False):
        c = math.cos(math.radians(a_lat))
        bx, by = (b_lon - a_lon) * k * c, (b_lat - a_lat) * k
        px, py = (lon - a_lon) * k * c, (lat - a_lat) * k
        t = max(0.0, min(1.0, (px * bx + py * by) / (bx * bx + by * by)))
        best = min(best, ((px - t * bx) ** 2 + (py - t * by) ** 2) ** 0.5)
    return best


def test_pty_fixes_follow_the_route_once_per_sim_second(short_route_file: Path) -> None:
    config = SimConfig(
        route=str(short_route_file),
        speedup=40,
        start=START,
        idle_before_s=5,
        end_dwell_s=5,
        can_interface=None,
    )
    with Simulator(config) as sim:
        assert sim.nmea_endpoint.startswith("/dev/")
        with serial.Serial(sim.nmea_endpoint, timeout=0.2) as port:
            lines = _read_lines(port, sim)
        counters = sim.counters()["nmea"]
    assert counters["dropped_overflow"] == 0 and counters["errors"] == 0

    msgs = [pynmea2.parse(line.strip(), check=True) for line in lines]
    assert all(line.endswith("\r\n") for line in lines)
    rmc = [m for m in msgs if m.sentence_type == "RMC"]
    gga = [m for m in msgs if m.sentence_type == "GGA"]
    assert len(rmc) > 60 and abs(len(rmc) - len(gga)) <= 1
    assert {m.sentence_type for m in msgs} == {"RMC", "GGA", "VTG", "GSA"}

    times = [datetime.combine(m.datestamp, m.timestamp).replace(tzinfo=UTC) for m in rmc]
    assert times[0] >= START and (times[0] - START).total_seconds() <= 5
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times))

    for m in rmc:
        assert m.status == "A"
        assert _route_distance(short_route_file, m.latitude, m.longitude) < 1.0
    speeds = [float(m.spd_over_grnd) * 1.852 for m in rmc]
    assert speeds[0] == 0.0 and speeds[-1] == 0.0  # idling at the start, parked at the end
    assert max(speeds) > 25 and max(speeds) <= 40.0 + 0.1
    # The 5 s delivery stop at the corner: several fixes at speed 0 right at the corner.
    corner = (41.8855, -87.656912)
    at_corner = [
        s
        for m, s in zip(rmc, speeds, strict=True)
        if abs(m.latitude - corner[0]) < 1e-5 and abs(m.longitude - corner[1]) < 1e-5
    ]
    assert len(at_corner) >= 4 and all(s == 0.0 for s in at_corner[1:-1])
    # The last fix is at the route's end point.
    assert rmc[-1].latitude == pytest.approx(41.88731, abs=1e-6)
    for m in gga:
        assert m.gps_qual == 1
        assert 8 <= int(m.num_sats) <= 12
        assert 0.8 <= float(m.horizontal_dil) <= 1.2


def test_tcp_server_serves_reconnecting_clients_with_noisy_fixes(short_route_file: Path) -> None:
    config = SimConfig(
        route=str(short_route_file),
        speedup=30,
        start=START,
        nmea="tcp://127.0.0.1:0",
        gps_noise_m=3.0,
        seed=7,
        can_interface=None,
    )
    with Simulator(config) as sim:
        assert sim.nmea_endpoint.startswith("socket://127.0.0.1:")
        offsets: list[float] = []
        seen_times = []
        for _ in range(2):  # connect, read, hang up, connect again
            port = serial.serial_for_url(sim.nmea_endpoint, timeout=1.0)
            got = 0
            while got < 15:
                line = port.readline().decode("ascii").strip()
                assert line, "no NMEA from the TCP server"
                msg = pynmea2.parse(line, check=True)
                if msg.sentence_type == "GGA":
                    got += 1
                    offsets.append(_route_distance(short_route_file, msg.latitude, msg.longitude))
                    seen_times.append(msg.timestamp)
            port.close()
        counters = sim.counters()["nmea"]
    assert counters["connections"] == 2
    assert len(offsets) == 30
    # Noise moves fixes off the road, but only by metres.
    assert max(offsets) > 0.5
    assert max(offsets) < 20
    assert seen_times == sorted(seen_times)


def test_nmea_to_a_file_and_to_an_existing_tty(short_route_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "gps.nmea"
    master, slave = os.openpty()  # stands for a real serial port the simulator is given
    tty_path = os.ttyname(slave)
    try:
        for target in (str(out), tty_path):
            config = SimConfig(
                route=str(short_route_file),
                speedup=50,
                duration_s=20,
                nmea=target,
                can_interface=None,
            )
            with Simulator(config) as sim:
                assert sim.wait_finished(10)
                assert sim.nmea_endpoint == target
        os.set_blocking(master, False)
        from_tty = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(master, 65536):
                from_tty += chunk
    finally:
        os.close(master)
        os.close(slave)
    for blob in (out.read_bytes(), from_tty):
        lines = blob.decode("ascii").splitlines()
        rmc = [pynmea2.parse(x, check=True) for x in lines if x[3:6] == "RMC"]
        assert len(rmc) == 21  # t = 0 .. 20 s
        assert len(lines) == 4 * 21
