"""The scale path: PostgreSQL with two ingest workers sharing one MQTT 5 subscription
(`$share/fleetwire-ingest/...`). Both take part, one is killed with -9 mid-stream and
redeployed under the same client id, and the cloud still holds every record the agent
generated, once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.faults.test_sync_faults import DEVICE, assert_cloud_equals_outbox, make_sim
from tests.harness import BIN, Processes, outbox_rows, wait_for, write_agent_config

pytestmark = pytest.mark.slow


def _worker(procs: Processes, name: str, db_url: str, client_id: str, fleet: str) -> None:
    env = dict(os.environ)
    env.update(
        FLEETWIRE_DATABASE_URL=db_url,
        FLEETWIRE_MQTT_URL="mqtt://127.0.0.1:1883",
        FLEETWIRE_INGEST_CLIENT_ID=client_id,
        FLEETWIRE_INGEST_FLEET=fleet,
        FLEETWIRE_SHARED_SUBSCRIPTION="true",
        FLEETWIRE_LOG_LEVEL="DEBUG",  # one "event=batch" line per stored message
    )
    procs.sessions.add(("mqtt://127.0.0.1:1883", client_id))
    procs.start(name, [str(BIN / "fleetwire-cloud"), "ingest"], env)


def _batches(log: Path) -> int:
    return log.read_text(errors="replace").count("event=batch") if log.exists() else 0


def test_two_shared_workers_on_postgres_one_redeployed(
    tmp_path: Path, mqtt_broker: tuple[str, int], pg_url: str, unique_id: str, procs: Processes
) -> None:
    fleet, can_port = f"w{unique_id}", free_port()
    sim = make_sim(20, 300, can_port)
    outbox = tmp_path / "outbox.db"
    try:
        _worker(procs, "worker-a", pg_url, f"wa-{unique_id}", fleet)
        _worker(procs, "worker-b", pg_url, f"wb-{unique_id}", fleet)
        for name in ("worker-a", "worker-b"):  # both subscribed before the first record
            log = tmp_path / f"{name}.log"
            wait_for(
                lambda log=log: log.exists() and "mqtt_subscribed" in log.read_text(),
                30,
                f"{name} to subscribe",
            )
        sim.start()
        procs.agent(
            write_agent_config(
                tmp_path / "agent.toml",
                device=DEVICE,
                fleet=fleet,
                nmea=sim.nmea_endpoint,
                can_port=can_port,
                outbox=outbox,
            )
        )
        wait_for(
            lambda: (
                _batches(tmp_path / "worker-a.log") > 3 and _batches(tmp_path / "worker-b.log") > 3
            ),
            40,
            "both workers to take batches",
        )
        procs.signal("worker-a", signal.SIGKILL)  # redeployed without notice
        time.sleep(2.0)
        _worker(procs, "worker-a", pg_url, f"wa-{unique_id}", fleet)
        assert sim.wait_finished(60)
    finally:
        sim.stop()
    rows = assert_cloud_equals_outbox(outbox, pg_url, fleet)
    assert len(rows) > 100
    assert sum(r["sent"] for r in outbox_rows(outbox)) == len(rows)
