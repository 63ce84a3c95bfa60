"""`make demo`: a simulated truck -> agent -> MQTT broker -> cloud -> HTTP API, on this machine.

Starts three processes on embedded defaults (SQLite, the cloud's built-in amqtt broker):

    fleetwire-sim    drives a route; NMEA into a pty, J1939 onto a udp_multicast CAN bus
    fleetwire-agent  reads the pty and the bus, buffers to SQLite, publishes over MQTT
    fleetwire-cloud  embedded broker + ingest + API (SQLite in data/demo/)

prints where the API is, the positions and engine samples that arrived, and curl lines to
try. Ctrl-C stops everything cleanly (or pass --duration-s N).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEVICE, FLEET, DRIVER = "demo-truck-01", "default", "DEMO01"


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free TCP port")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def send_json(method: str, url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def count_pages(url: str) -> int:
    total, cursor = 0, None
    while True:
        page = get_json(url + (f"&cursor={cursor}" if cursor else ""))
        total += page["count"]
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration-s", type=float, default=0, help="stop after N s (0: until Ctrl-C)"
    )
    parser.add_argument("--speedup", type=float, default=5.0, help="simulated time runs N x faster")
    parser.add_argument("--api-port", type=int, default=8080)
    args = parser.parse_args()

    data = REPO / "data" / "demo"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    api_port = free_port(args.api_port)
    broker_port = free_port(1883)
    can_port = free_port(43113)
    driver_port = free_port(8081)
    api = f"http://127.0.0.1:{api_port}"
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    logs = {name: open(data / f"{name}.log", "wb") for name in ("cloud", "sim", "agent")}  # noqa: SIM115

    def stop_all(*_: Any) -> None:
        # agent first (it commits and waits for its last PUBACKs), then the truck, then
        # the cloud with its broker
        for name, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it")
                proc.kill()

    env = dict(os.environ)
    env.update(
        FLEETWIRE_DATABASE_URL=f"sqlite:///{data / 'cloud.db'}",
        FLEETWIRE_MQTT_URL="",
        FLEETWIRE_EMBEDDED_BROKER_PORT=str(broker_port),
        FLEETWIRE_API_PORT=str(api_port),
        FLEETWIRE_LOG_LEVEL="INFO",
    )
    print("fleetwire demo: starting the cloud (embedded MQTT broker + ingest + API, SQLite)...")
    procs.append(
        (
            "cloud",
            subprocess.Popen(
                [str(BIN / "fleetwire-cloud"), "run"],
                env=env,
                stdout=logs["cloud"],
                stderr=subprocess.STDOUT,
            ),
        )
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(f"{api}/healthz")
                break
            except (urllib.error.URLError, OSError, ValueError):
                if procs[0][1].poll() is not None or time.monotonic() > deadline:
                    print((data / "cloud.log").read_text()[-3000:])
                    print("the cloud did not start; its log is above and in data/demo/cloud.log")
                    stop_all()
                    return 1
                time.sleep(0.3)

        print("starting the simulated truck (NMEA on a pty, J1939 on a udp_multicast CAN bus)...")
        sim = subprocess.Popen(
            [
                str(BIN / "fleetwire-sim"),
                "run",
                "--speedup",
                str(args.speedup),
                "--loop",
                "--can-interface",
                "udp_multicast",
                "--can-channel",
                "239.74.163.2",
                "--can-port",
                str(can_port),
                "--idle-before-s",
                "30",
                # a coolant-temperature fault (J1939 SPN 110, FMI 0) after two simulated minutes
                "--fault",
                "110:0:120",
            ],
            stdout=subprocess.PIPE,
            stderr=logs["sim"],
        )
        procs.append(("sim", sim))
        assert sim.stdout is not None
        first = sim.stdout.readline().decode()
        endpoints = json.loads(first)
        agent_cfg = data / "agent.toml"
        agent_cfg.write_text(
            f'[device]\nid = "{DEVICE}"\nfleet = "{FLEET}"\n'
            f'[gnss]\nurl = "{endpoints["nmea"]}"\nbaudrate = 9600\n'
            "[gnss.sampling.moving]\nmax_period_s = 1.0\n"
            "[gnss.sampling.stopped]\nmin_period_s = 1.0\nmax_period_s = 1.0\n"
            f'[can]\ninterface = "udp_multicast"\nchannel = "239.74.163.2"\n'
            f"[can.options]\nport = {can_port}\n"
            f'[outbox]\npath = "{data / "outbox.db"}"\n'
            f'[uplink]\nmqtt_url = "mqtt://127.0.0.1:{broker_port}"\nbatch_max_age_s = 1.0\n'
            f"status_period_s = 10\n"
            f'[eld]\nenabled = true\nstore_path = "{data / "eld.db"}"\nui_port = {driver_port}\n'
        )
        print(f"starting the agent (config {agent_cfg.relative_to(REPO)})...")
        procs.append(
            (
                "agent",
                subprocess.Popen(
                    [str(BIN / "fleetwire-agent"), "run", "--config", str(agent_cfg)],
                    stdout=logs["agent"],
                    stderr=subprocess.STDOUT,
                ),
            )
        )

        # the driver: known to the cloud (HOS settings), logged in on the truck's driver page
        send_json(
            "PUT",
            f"{api}/v1/drivers/{DRIVER}",
            {"name": "Demo Driver", "home_terminal_tz": "America/Chicago"},
        )
        driver_page = f"http://127.0.0.1:{driver_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                send_json("POST", f"{driver_page}/api/login", {"driver_id": DRIVER})
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    print("the agent's driver page did not come up; see data/demo/agent.log")
                    break
                time.sleep(0.3)

        print(f"""
API:      {api}      (interactive docs: {api}/docs)
driver:   {driver_page}      (the in-cab page: duty status, log in / out)
logs:     data/demo/{{cloud,sim,agent}}.log

try, in another terminal:
  curl -s {api}/v1/vehicles
  curl -s {api}/v1/vehicles/{DEVICE}/latest
  curl -s '{api}/v1/vehicles/{DEVICE}/positions?limit=5'
  curl -s '{api}/v1/vehicles/{DEVICE}/engine?limit=3'
  curl -s {api}/v1/drivers/{DRIVER}/hos/clocks
  curl -s '{api}/v1/alerts?status=open'

Ctrl-C stops everything.
""")
        started = time.monotonic()
        stop = {"now": False}
        signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        while not stop["now"]:
            time.sleep(1.0)
            if stop["now"]:
                break  # Ctrl-C reaches every process of the terminal: they are stopping
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see data/demo/{name}.log")
                    stop["now"] = True
            if args.duration_s and time.monotonic() - started >= args.duration_s:
                break
            if int(time.monotonic() - started) % 5 == 0:
                try:
                    positions = count_pages(f"{api}/v1/vehicles/{DEVICE}/positions?limit=1000")
                    engine = count_pages(f"{api}/v1/vehicles/{DEVICE}/engine?limit=1000")
                    latest = get_json(f"{api}/v1/vehicles/{DEVICE}/latest")
                    pos = latest.get("position") or {}
                    speed = pos.get("speed_mps")
                    print(
                        f"[{time.monotonic() - started:5.0f} s] positions {positions:5d}  "
                        f"engine samples {engine:5d}  latest "
                        f"{pos.get('lat')}, {pos.get('lon')} at "
                        f"{'-' if speed is None else round(speed * 3.6, 1)} km/h",
                        flush=True,
                    )
                except urllib.error.HTTPError as exc:
                    if exc.code != 404:
                        print(f"API error {exc.code}: {exc.read()[:200]!r}")
                    else:
                        print("waiting for the first records to arrive...")
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    print(f"API not answering: {exc}")
    finally:
        print("stopping...")
        stop_all()
        for fh in logs.values():
            fh.close()
    print("stopped. The data stays in data/demo/ until the next `make demo`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
