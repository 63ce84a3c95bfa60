"""The ``fleetwire-sim`` command line, run as a real process."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import can
import pynmea2
import pytest
import serial

from sim.cli import main

CMD = [sys.executable, "-m", "sim.cli"]
REPO = Path(__file__).resolve().parents[2]


def test_help_teaches_with_examples() -> None:
    out = subprocess.run(
        [*CMD, "run", "--help"], capture_output=True, text=True, cwd=REPO, timeout=30
    )
    assert out.returncode == 0
    assert (
        "examples:" in out.stdout and "--idle-before-s" in out.stdout and "socket://" in out.stdout
    )


def test_routes_lists_the_shipped_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("chicago_west_loop\t7.2")


def test_bad_options_exit_with_a_message(short_route_file: Path) -> None:
    for args, needle in (
        (["--fault", "999999:1"], "SPN must be"),
        (["--route", "nowhere"], "no route file"),
        (["--vin", "SHORT"], "17 characters"),
        (["--speedup", "0"], "speedup"),
    ):
        out = subprocess.run(
            [*CMD, "run", "--nmea", "none", "--can-interface", "none", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr


def test_run_prints_endpoints_serves_nmea_and_stops_on_sigterm(channel: str) -> None:
    proc = subprocess.Popen(
        [*CMD, "run", "--speedup", "20", "--loop", "--can-channel", channel, "--progress-s", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["can"] == {"interface": "virtual", "channel": channel}
        with serial.Serial(first["nmea"], timeout=2) as port:
            lines = [port.readline().decode("ascii").strip() for _ in range(12)]
        msgs = [pynmea2.parse(line, check=True) for line in lines if line]
        assert sum(m.sentence_type == "RMC" for m in msgs) >= 2
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "speed=" in err and '"finished": false' in err


def test_run_to_the_end_of_a_short_route(short_route_file: Path) -> None:
    out = subprocess.run(
        [
            *CMD,
            "run",
            "--route",
            str(short_route_file),
            "--speedup",
            "50",
            "--nmea",
            "none",
            "--can-interface",
            "none",
            "--engine-off-at-end",
            "--progress-s",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0]) == {"nmea": None, "can": None}
    summary = json.loads(out.stderr.strip().splitlines()[-1])
    assert summary["finished"] is True and summary["fixes"] > 60
    assert " finished " in out.stderr and "rpm=0 " in out.stderr


def test_udp_multicast_reaches_another_process(channel: str) -> None:
    group = f"239.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    bus = can.Bus(interface="udp_multicast", channel=group)
    proc = subprocess.Popen(
        [
            *CMD,
            "run",
            "--speedup",
            "20",
            "--idle-before-s",
            "600",
            "--nmea",
            "none",
            "--can-interface",
            "udp_multicast",
            "--can-channel",
            group,
            "--progress-s",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["can"]["interface"] == "udp_multicast"
        rpm = None
        for _ in range(200):
            msg = bus.recv(0.1)
            if msg is not None and msg.arbitration_id == 0x0CF00400:  # EEC1 from SA 0
                rpm = int.from_bytes(msg.data[3:5], "little") * 0.125
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    finally:
        bus.shutdown()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rpm == 650.0
    assert proc.returncode == 0
