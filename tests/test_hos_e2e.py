"""Hours of service end to end on real parts: simulator -> agent process with ELD ->
the real Mosquitto -> cloud ingest process -> database -> HOS API.

The driver is logged in on the truck (duty store seeded before the agent starts), goes
on duty through the cloud API before the drive; the agent records the driving itself;
the driver goes off duty through the API after it. The API's clocks must equal the pure
calculator on the same events: the agent's ELD duty-status records (read from its
outbox) plus the two API entries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.harness import Processes, outbox_rows, wait_for, write_agent_config

pytestmark = pytest.mark.slow

DRIVER = "D001"  # the agent's login takes ELD usernames of 4-60 characters
DEVICE = "truck-hos"


def z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloud.db'}"
    return str(request.getfixturevalue("pg_url"))


def agent_duty_events(outbox: Path) -> list[tuple[datetime, str]]:
    """(start, status) of the driver's ELD duty-status records in the agent's outbox."""
    out = []
    for r in outbox_rows(outbox):
        data = r["data"]
        if data.get("name") == "eld_duty_status" and data.get("driver_id") == DRIVER:
            out.append((datetime.fromtimestamp(r["time_ms"] // 1000, UTC), data["status"]))
    return out


def test_driver_clocks_from_the_truck_and_the_api_equal_the_calculator(
    tmp_path: Path, mqtt_broker: tuple[str, int], database_url: str, unique_id: str
) -> None:
    from fastapi.testclient import TestClient

    from agent.eld import DutyStore
    from cloud.api.app import create_app
    from cloud.db.engine import create_engine
    from cloud.db.migrate import upgrade
    from cloud.processors.hos import DutyEvent, evaluate
    from cloud.settings import Settings
    from sim.runner import SimConfig, Simulator

    fleet = f"hos{unique_id}"
    # Sim time starts two hours ago and runs 100x: every record stays in the past, so
    # the driver's entries through the API are ordinary late entries.
    sim_start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    eld_store = tmp_path / "eld.db"
    store = DutyStore(eld_store)
    store.login(DRIVER, time_ms=int(sim_start.timestamp() * 1000) - 3_600_000)
    store.close()

    engine = create_engine(database_url)
    upgrade(engine)  # before the ingest process starts, so the two never migrate at once
    app = create_app(Settings(database_url=database_url, default_fleet=fleet), engine=engine)
    procs = Processes(tmp_path)
    can_port = free_port()
    sim = Simulator(
        SimConfig(
            speedup=100,
            start=sim_start,
            duration_s=900,
            idle_before_s=60,
            # GNSS speed only: CAN values that arrive before the agent's first GNSS fix
            # are stamped with the raw system clock, which in this test runs two hours
            # ahead of the simulated time (agent/clock.py).
            can_interface=None,
            seed=5,
        )
    )
    outbox = tmp_path / "outbox.db"
    try:
        with TestClient(app) as client:
            resp = client.put(
                f"/v1/drivers/{DRIVER}",
                json={"name": "Dana One", "home_terminal_tz": "America/Chicago"},
            )
            assert resp.status_code == 201, resp.text
            on_duty_at = sim_start - timedelta(minutes=20)
            resp = client.post(
                f"/v1/drivers/{DRIVER}/duty-status",
                json={"status": "on_duty", "start": z(on_duty_at), "note": "pre-trip"},
            )
            assert resp.status_code == 201, resp.text

            procs.ingest(database_url, "mqtt://127.0.0.1:1883", f"fw-hos-{unique_id}", fleet)
            sim.start()
            eld = f'[eld]\nenabled = true\nstore_path = "{eld_store}"\nui_port = 0\n'
            procs.agent(
                write_agent_config(
                    tmp_path / "agent.toml",
                    device=DEVICE,
                    fleet=fleet,
                    nmea=sim.nmea_endpoint,
                    can_port=can_port,
                    outbox=outbox,
                    extra=eld,
                )
            )
            assert sim.wait_finished(30), "the simulator did not finish its drive"
            sim.stop()
            wait_for(lambda: agent_duty_events(outbox), 20, "the agent to record driving")
            wait_for(lambda: all(r["sent"] for r in outbox_rows(outbox)), 30, "every record sent")
            from_truck = agent_duty_events(outbox)

            def arrived() -> bool:
                rows = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
                got = {(r["start"], r["status"]) for r in rows if r["source"] == "eld"}
                return got >= {(z(t), s) for t, s in from_truck}

            wait_for(arrived, 30, f"the agent's duty-status records {from_truck} in the cloud")
            off_duty_at = max(t for t, _ in from_truck) + timedelta(minutes=10)
            resp = client.post(
                f"/v1/drivers/{DRIVER}/duty-status",
                json={"status": "off_duty", "start": z(off_duty_at), "location": "Aurora, IL"},
            )
            assert resp.status_code == 201, resp.text
            at = off_duty_at + timedelta(minutes=30)
            clocks = client.get(f"/v1/drivers/{DRIVER}/hos/clocks", params={"at": z(at)})
            listed = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    finally:
        sim.stop()
        procs.stop_all()
        procs.dump_logs()
        engine.dispose()

    assert "driving" in {s for _, s in from_truck}, "the agent never recorded driving"
    events = sorted([(on_duty_at, "on_duty"), *from_truck, (off_duty_at, "off_duty")])
    starts = [t for t, _ in events]
    assert len(starts) == len(set(starts)), "two statuses in one second: the test is ambiguous"
    assert [(r["start"], r["status"]) for r in listed] == [(z(t), s) for t, s in events]
    from_vehicle = [r for r in listed if r["source"] == "eld"]
    assert {(r["device_id"], r["origin"]) for r in from_vehicle} == {(DEVICE, "auto")}
    assert all(r["eld_seq"] is not None for r in from_vehicle)
    want = evaluate(
        [DutyEvent(t, s) for t, s in events], "us_property_70_8", [], "America/Chicago", at
    ).to_json()
    assert clocks.status_code == 200, clocks.text
    body = clocks.json()
    assert {k: body[k] for k in want} == want
    assert body["current_status"] == "off_duty"
    assert body["calculation_period"]["start"] == z(on_duty_at)
    assert body["remaining"]["drive_s"] < 11 * 3600  # the drive counted
