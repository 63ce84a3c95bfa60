"""End to end on real parts: positions published to the real Mosquitto -> the cloud ingest
process -> processors -> database -> routes API. One van drives the shipped route live in
small batches; a second van's identical drive arrives after an "outage" as a shuffled
backlog. Both routes must end with the same adherence report and events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cloud.mqtt_helpers import Publisher, wait_until
from tests.harness import Processes

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def test_live_and_backlog_drives_through_mqtt_give_the_same_adherence(
    tmp_path: Path, mqtt_broker: tuple[str, int], database_url: str, unique_id: str
) -> None:
    from fastapi.testclient import TestClient

    from cloud.api.app import create_app
    from cloud.db.engine import create_engine
    from cloud.db.migrate import upgrade
    from cloud.db.tables import positions
    from cloud.settings import Settings
    from tests.cloud.factories import payload, position, up
    from tests.cloud.test_adherence_engine import (
        T0,
        DriveBuilder,
        chicago_plan,
        standard_dwell,
    )
    from wire import Batch

    fleet = f"adh{unique_id}"
    engine = create_engine(database_url)
    upgrade(engine)
    procs = Processes(tmp_path)
    publisher = Publisher(*mqtt_broker, f"adh-pub-{unique_id}")
    client = TestClient(create_app(Settings(default_fleet=fleet), engine=engine))
    client.__enter__()  # runs the app's lifespan (it holds the engine)
    try:

        def lateral(s: float, _t: int) -> float:
            return 250.0 if 3500 <= s <= 4300 else 0.0

        fixes = DriveBuilder().drive(standard_dwell(), lateral=lateral)
        recs = [
            position(i + 1, f.time_ms, f.lat, f.lon, f.speed_mps or 0.0)
            for i, f in enumerate(fixes)
        ]  # type: ignore[arg-type]
        plan = chicago_plan(windows_min=[(0, 30), (0, 45), (0, 10)])
        ids = {}
        for dev in ("van-live", "van-late"):
            resp = client.post("/v1/routes", json={**plan, "device_id": dev})
            assert resp.status_code == 201, resp.text
            ids[dev] = resp.json()["route_id"]

        procs.ingest(database_url, "mqtt://127.0.0.1:1883", f"adh-ingest-{unique_id}", fleet)
        # the consumer subscribes some time after starting: resend a probe until it is stored
        probe = payload(Batch("probe", 1, (position(1, T0 - 3_600_000, 41.0, -87.0, 0.0),)))

        def probe_stored() -> bool:
            publisher.publish(up(fleet, "probe"), probe)
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        sa.select(sa.func.count()).where(positions.c.fleet_id == fleet)
                    ).scalar()
                )

        assert wait_until(probe_stored, 30), "the ingest process never stored the probe"

        for i in range(0, len(recs), 60):  # live: small batches in time order
            publisher.publish(
                up(fleet, "van-live"), payload(Batch("van-live", 1, tuple(recs[i : i + 60])))
            )
        shuffled = recs[:]
        random.Random(11).shuffle(shuffled)
        chunks = [shuffled[i : i + 500] for i in range(0, len(shuffled), 500)]
        for chunk in reversed(chunks):  # the backlog, out of order
            publisher.publish(up(fleet, "van-late"), payload(Batch("van-late", 1, tuple(chunk))))

        def all_stored() -> bool:
            with engine.connect() as conn:
                n = conn.execute(
                    sa.select(sa.func.count()).where(
                        positions.c.fleet_id == fleet, positions.c.device_id != "probe"
                    )
                ).scalar()
            return n == 2 * len(recs)

        assert wait_until(all_stored, 120), "not every position reached the database"

        def results() -> dict[str, Any]:
            return {
                dev: (
                    client.get(f"/v1/routes/{rid}/adherence").json(),
                    client.get(f"/v1/routes/{rid}/events").json()["data"],
                )
                for dev, rid in ids.items()
            }

        assert wait_until(
            lambda: all(a["state"] == "completed" for a, _ in results().values()), 60
        ), "the routes were not completed"
        got = results()
        (live, live_events), (late, late_events) = got["van-live"], got["van-late"]
        assert live["report"] == late["report"] and live["stops"] == late["stops"]
        assert live_events == late_events
        assert [s["status"] for s in live["stops"]] == ["on_time", "on_time", "late"]
        assert {e["kind"] for e in live_events} >= {"off_route", "back_on_route", "eta_late"}
        assert live["report"]["off_route_episodes"] == 1
    finally:
        client.__exit__(None, None, None)
        publisher.close()
        procs.stop_all()
        engine.dispose()
