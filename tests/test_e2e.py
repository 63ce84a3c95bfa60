"""End to end on real parts: simulator -> pty + CAN bus -> agent process -> the real
Mosquitto -> cloud ingest process -> database -> API.

Every record the agent committed to its outbox must come out of the API exactly once,
with the same event time and values — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def outbox_rows(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT boot_id, seq, kind, time_ms, data, sent_ms FROM records ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [
        {
            "boot_id": r[0],
            "seq": r[1],
            "kind": r[2],
            "time_ms": r[3],
            "data": json.loads(r[4]),
            "sent": r[5] is not None,
        }
        for r in rows
    ]


def api_all(client: Any, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        resp = client.get(url, params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


class Stack:
    """The processes of one end-to-end run; everything is stopped in reverse at the end."""

    def __init__(self, tmp: Path, db_url: str, fleet: str) -> None:
        self.tmp, self.db_url, self.fleet = tmp, db_url, fleet
        self.procs: list[subprocess.Popen[bytes]] = []

    def cloud_env(self, client_id: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FLEETWIRE_DATABASE_URL=self.db_url,
            FLEETWIRE_MQTT_URL="mqtt://127.0.0.1:1883",
            FLEETWIRE_INGEST_CLIENT_ID=client_id,
            FLEETWIRE_DEFAULT_FLEET=self.fleet,
        )
        return env

    def start(
        self, args: list[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "wb") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def write_agent_config(
    path: Path, device: str, fleet: str, nmea: str, can_port: int, outbox: Path
) -> None:
    path.write_text(
        f'[device]\nid = "{device}"\nfleet = "{fleet}"\n'
        f'[gnss]\nurl = "{nmea}"\nstall_timeout_s = 3.0\n'
        # record every 1 Hz fix, so the comparison covers the whole drive
        "[gnss.sampling.moving]\nmax_period_s = 1.0\n"
        "[gnss.sampling.stopped]\nmin_period_s = 1.0\nmax_period_s = 1.0\n"
        f'[can]\ninterface = "udp_multicast"\nchannel = "239.74.163.2"\n'
        f"[can.options]\nport = {can_port}\n"
        f'[outbox]\npath = "{outbox}"\ncommit_window_ms = 200\nkeep_sent_s = 86400\n'
        f'[uplink]\nmqtt_url = "mqtt://127.0.0.1:1883"\nbatch_max_age_s = 0.5\n'
        f"batch_max_records = 100\n"
    )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def test_every_outbox_record_comes_out_of_the_api_exactly_once(
    tmp_path: Path, mqtt_broker: tuple[str, int], database_url: str, unique_id: str
) -> None:
    from fastapi.testclient import TestClient

    from cloud.api.app import create_app
    from cloud.settings import Settings
    from sim.runner import SimConfig, Simulator

    fleet, device = f"e2e{unique_id}", "truck-e2e"
    stack = Stack(tmp_path, database_url, fleet)
    can_port = free_port()
    sim = Simulator(
        SimConfig(
            speedup=25,
            duration_s=150,
            idle_before_s=20,
            can_interface="udp_multicast",
            can_channel="239.74.163.2",
            can_options={"port": can_port},
            seed=3,
        )
    )
    outbox = tmp_path / "outbox.db"
    try:
        stack.start(
            [str(BIN / "fleetwire-cloud"), "ingest"],
            "ingest.log",
            stack.cloud_env(f"fw-ingest-{unique_id}"),
        )
        sim.start()
        write_agent_config(
            tmp_path / "agent.toml", device, fleet, sim.nmea_endpoint, can_port, outbox
        )
        stack.start(
            [str(BIN / "fleetwire-agent"), "run", "--config", str(tmp_path / "agent.toml")],
            "agent.log",
        )
        assert sim.wait_finished(60), "the simulator did not finish its drive"
        sim.stop()
        wait_for(
            lambda: outbox.exists() and len(outbox_rows(outbox)) > 0, 20, "records in the outbox"
        )
        # the drive is over: wait until the agent has nothing left to send
        wait_for(
            lambda: all(r["sent"] for r in outbox_rows(outbox)), 60, "every record acknowledged"
        )
        time.sleep(1.0)
        wait_for(
            lambda: all(r["sent"] for r in outbox_rows(outbox)), 30, "every record acknowledged"
        )
        rows = outbox_rows(outbox)

        settings = Settings(database_url=database_url, default_fleet=fleet)
        with TestClient(create_app(settings)) as client:

            def stored() -> int:
                resp = client.get(f"/v1/vehicles/{device}/positions", params={"limit": 1})
                return 0 if resp.status_code == 404 else 1

            wait_for(lambda: stored() > 0, 30, "the vehicle to appear in the API")
            expected_positions = {
                (r["boot_id"], r["seq"]): r for r in rows if r["kind"] == "position"
            }

            def positions() -> list[dict[str, Any]]:
                return api_all(client, f"/v1/vehicles/{device}/positions")

            wait_for(
                lambda: len(positions()) >= len(expected_positions), 60, "all positions stored"
            )
            got_positions = positions()
            engine = api_all(client, f"/v1/vehicles/{device}/engine")
            events = api_all(client, f"/v1/vehicles/{device}/events")
            latest = client.get(f"/v1/vehicles/{device}/latest").json()
    finally:
        sim.stop()
        stack.stop()
        for log in ("agent.log", "ingest.log"):
            if (tmp_path / log).exists():
                sys.stderr.write(f"--- {log} (tail) ---\n{(tmp_path / log).read_text()[-2500:]}\n")

    kinds = {k: [r for r in rows if r["kind"] == k] for k in ("position", "engine", "event")}
    assert len(kinds["position"]) >= 100, "the agent recorded too few positions for a 150 s drive"
    assert len(kinds["engine"]) >= 20, "the agent recorded too few engine samples"

    # positions: exactly once, same event time, same values
    keys = [(p["boot_id"], p["seq"]) for p in got_positions]
    assert len(keys) == len(set(keys)), "a position came out of the API twice"
    assert set(keys) == {(r["boot_id"], r["seq"]) for r in kinds["position"]}
    by_key = {(p["boot_id"], p["seq"]): p for p in got_positions}
    for r in kinds["position"]:
        p = by_key[(r["boot_id"], r["seq"])]
        assert p["time_ms"] == r["time_ms"]
        assert p["data"] == r["data"]

    # engine samples: exactly once, same values
    ekeys = [(e["boot_id"], e["seq"]) for e in engine]
    assert len(ekeys) == len(set(ekeys))
    assert {(e["boot_id"], e["seq"]): (e["time_ms"], e["values"]) for e in engine} == {
        (r["boot_id"], r["seq"]): (r["time_ms"], r["data"]) for r in kinds["engine"]
    }
    speeds = [r["data"]["Vehicle.Speed"] for r in kinds["engine"] if "Vehicle.Speed" in r["data"]]
    rpms = [
        r["data"]["Vehicle.Powertrain.CombustionEngine.Speed"]
        for r in kinds["engine"]
        if "Vehicle.Powertrain.CombustionEngine.Speed" in r["data"]
    ]
    assert speeds and max(speeds) > 20, "the truck drove, so the CAN speed must show it"
    assert rpms and min(rpms) > 400, "the engine idles and runs: rpm from J1939 EEC1"

    # events: exactly once
    vkeys = [(e["boot_id"], e["seq"]) for e in events]
    assert len(vkeys) == len(set(vkeys))
    assert set(vkeys) == {(r["boot_id"], r["seq"]) for r in kinds["event"]}

    newest = max(kinds["position"], key=lambda r: r["time_ms"])
    assert latest["position"]["time_ms"] == newest["time_ms"]
