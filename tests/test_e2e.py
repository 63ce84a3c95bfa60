"""End to end on real parts: simulator -> pty + CAN bus -> agent process -> the real
Mosquitto -> cloud ingest process -> database -> API.

Every record the agent committed to its outbox must come out of the API exactly once,
with the same event time and values — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.harness import CAN_GROUP, Processes, outbox_rows, wait_for, write_agent_config

pytestmark = pytest.mark.slow


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
    procs = Processes(tmp_path)
    can_port = free_port()
    sim = Simulator(
        SimConfig(
            speedup=25,
            duration_s=300,
            idle_before_s=20,
            can_interface="udp_multicast",
            can_channel=CAN_GROUP,
            can_options={"port": can_port},
            seed=3,
        )
    )
    outbox = tmp_path / "outbox.db"
    try:
        procs.ingest(database_url, "mqtt://127.0.0.1:1883", f"fw-ingest-{unique_id}", fleet)
        sim.start()
        config = write_agent_config(
            tmp_path / "agent.toml",
            device=device,
            fleet=fleet,
            nmea=sim.nmea_endpoint,
            can_port=can_port,
            outbox=outbox,
        )
        procs.agent(config)
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
        procs.stop_all()
        procs.dump_logs()

    kinds = {k: [r for r in rows if r["kind"] == k] for k in ("position", "engine", "event")}
    # sanity only (the sim starts before the agent process is up, so how much of the drive
    # the agent sees depends on the machine's load); equality below is the real check
    assert len(kinds["position"]) >= 30, "the agent recorded too few positions"
    assert len(kinds["engine"]) >= 10, "the agent recorded too few engine samples"

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
