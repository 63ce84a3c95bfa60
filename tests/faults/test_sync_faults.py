"""Zero loss, zero duplicates — proven by breaking things on real processes.

Each test drives a simulated truck at an accelerated rate through the agent process,
a real Mosquitto and the cloud ingest process, breaks one part mid-stream (kill -9 the
agent, stop the broker, stop the ingest, keep the agent offline past its disk cap,
inject corrupt payloads), and then compares the records the agent generated (its
outbox keeps sent records for the comparison) with what the cloud stored: equal sets,
and the database's unique key on (fleet, device, boot, seq) means no duplicates.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa

from tests.conftest import PrivateMosquitto, free_port
from tests.harness import (
    CAN_GROUP,
    Processes,
    cloud_records,
    outbox_rows,
    wait_for,
    write_agent_config,
)
from wire import Batch, Record, encode_batch
from wire.topics import topic_for

pytestmark = pytest.mark.slow
DEVICE = "truck-fault"


def make_sim(speedup: float, duration_s: float, can_port: int, **extra: Any) -> Any:
    from sim.runner import SimConfig, Simulator

    return Simulator(
        SimConfig(
            speedup=speedup,
            duration_s=duration_s,
            idle_before_s=10,
            can_interface="udp_multicast",
            can_channel=CAN_GROUP,
            can_options={"port": can_port},
            seed=11,
            **extra,
        )
    )


def assert_cloud_equals_outbox(
    outbox: Path, db_url: str, fleet: str, timeout: float = 90
) -> list[dict[str, Any]]:
    """Wait until every outbox record is acknowledged and stored, then compare sets."""
    wait_for(
        lambda: outbox_rows(outbox) and all(r["sent"] for r in outbox_rows(outbox)),
        timeout,
        "the agent to have every record acknowledged",
    )
    rows = outbox_rows(outbox)
    want = {(r["boot_id"], r["seq"], r["kind"], r["time_ms"]) for r in rows}
    wait_for(
        lambda: set(cloud_records(db_url, fleet, DEVICE)) >= want,
        30,
        "the cloud to store every record",
    )
    stored = cloud_records(db_url, fleet, DEVICE)
    assert len(stored) == len(set(stored)), "a record was stored twice"
    assert set(stored) == want, f"cloud has {len(set(stored) - want)} records the agent never wrote"
    return rows


@dataclass
class Stream:
    """A running drive: simulated truck -> agent process (-> broker -> ingest process)."""

    fleet: str
    db_url: str
    outbox: Path
    config: Path
    sim: Any


def start_stream(
    tmp_path: Path,
    procs: Processes,
    fleet: str,
    mqtt_url: str = "mqtt://127.0.0.1:1883",
    *,
    ingest: bool = True,
    speedup: float = 20,
    duration_s: float = 240,
    faults: tuple[str, ...] = (),
    **agent_options: Any,
) -> Stream:
    db_url, can_port = f"sqlite:///{tmp_path / 'cloud.db'}", free_port()
    if ingest:
        procs.ingest(db_url, mqtt_url, f"ingest-{fleet}", fleet)
    sim = make_sim(speedup, duration_s, can_port, faults=list(faults))
    sim.start()
    outbox = tmp_path / "outbox.db"
    config = write_agent_config(
        tmp_path / "agent.toml",
        device=DEVICE,
        fleet=fleet,
        nmea=sim.nmea_endpoint,
        can_port=can_port,
        outbox=outbox,
        mqtt_url=mqtt_url,
        **agent_options,
    )
    procs.agent(config)
    return Stream(fleet, db_url, outbox, config, sim)


def test_agent_killed_mid_stream_and_restarted(
    tmp_path: Path, mqtt_broker: tuple[str, int], procs: Processes, unique_id: str
) -> None:
    run = start_stream(tmp_path, procs, f"k{unique_id}")
    try:
        wait_for(lambda: len(outbox_rows(run.outbox)) > 80, 30, "the agent to record a while")
        procs.signal("agent", signal.SIGKILL)  # no goodbye: mid-batch, mid-commit
        time.sleep(1.0)
        procs.agent(run.config)
        assert run.sim.wait_finished(60)
    finally:
        run.sim.stop()
    rows = assert_cloud_equals_outbox(run.outbox, run.db_url, run.fleet)
    assert len({r["boot_id"] for r in rows}) == 2, "the restart is a new boot"


def test_broker_stopped_and_started_again(
    tmp_path: Path, procs: Processes, unique_id: str, private_mosquitto: PrivateMosquitto
) -> None:
    broker = private_mosquitto
    broker.start()
    run = start_stream(tmp_path, procs, f"b{unique_id}", broker.url)
    try:
        wait_for(
            lambda: sum(r["sent"] for r in outbox_rows(run.outbox)) > 50, 30, "records flowing"
        )
        broker.stop()
        unsent_before = sum(not r["sent"] for r in outbox_rows(run.outbox))
        time.sleep(4.0)  # the truck keeps driving; the agent keeps recording
        assert sum(not r["sent"] for r in outbox_rows(run.outbox)) > unsent_before
        broker.start()
        assert run.sim.wait_finished(60)
    finally:
        run.sim.stop()
    assert_cloud_equals_outbox(run.outbox, run.db_url, run.fleet)


def test_ingest_down_while_records_pile_up_in_the_broker(
    tmp_path: Path, procs: Processes, unique_id: str, private_mosquitto: PrivateMosquitto
) -> None:
    broker = private_mosquitto
    broker.start()
    run = start_stream(tmp_path, procs, f"i{unique_id}", broker.url)
    try:
        wait_for(
            lambda: len(cloud_records(run.db_url, run.fleet, DEVICE)) > 50, 30, "records stored"
        )
        procs.signal("ingest", signal.SIGKILL)  # unacknowledged messages stay with the broker
        stored_while_down = len(cloud_records(run.db_url, run.fleet, DEVICE))
        time.sleep(4.0)
        # the broker acknowledged the agent's messages: they now wait in the ingest's session
        assert sum(r["sent"] for r in outbox_rows(run.outbox)) > stored_while_down
        procs.ingest(run.db_url, broker.url, f"ingest-{run.fleet}", run.fleet)
        assert run.sim.wait_finished(60)
    finally:
        run.sim.stop()
    assert_cloud_equals_outbox(run.outbox, run.db_url, run.fleet)


def test_offline_past_the_disk_cap_keeps_eld_and_faults(
    tmp_path: Path, procs: Processes, unique_id: str, private_mosquitto: PrivateMosquitto
) -> None:
    broker = private_mosquitto  # not started yet: the truck is in a dead zone
    run = start_stream(
        tmp_path,
        procs,
        f"d{unique_id}",
        broker.url,
        ingest=False,
        speedup=60,
        duration_s=36_000,
        faults=("110:0:120", "100:1:300"),
        outbox_max_mb=0.25,
        extra=f'[eld]\nenabled = true\nstore_path = "{tmp_path / "eld.db"}"\nui_port = 0\n',
    )
    fleet, db_url, outbox, sim = run.fleet, run.db_url, run.outbox, run.sim
    try:
        # drive on, offline, until the cap has forced an eviction and both faults are in
        def capped() -> bool:
            rows = outbox_rows(outbox)
            lanes = Counter(r["lane"] for r in rows)
            return lanes["fault"] >= 2 and any(
                r["kind"] == "event" and r["data"].get("name") == "outbox_evicted" for r in rows
            )

        wait_for(capped, 120, "the outbox to reach its cap with both faults recorded")
        time.sleep(1.0)
    finally:
        sim.stop()
    rows = outbox_rows(outbox)
    assert rows and not any(r["sent"] for r in rows)
    # the cap was reached: samples were thinned and the thinning was reported
    evicted = [
        r for r in rows if r["kind"] == "event" and r["data"].get("name") == "outbox_evicted"
    ]
    assert evicted, "the disk cap was never reached; raise the drive length"
    kept_lanes = Counter(r["lane"] for r in rows)
    assert kept_lanes["fault"] >= 2 and kept_lanes["eld"] >= 2
    # nothing but samples and ordinary events was evicted: eld / fault seqs have no holes
    protected = sorted((r["boot_id"], r["seq"]) for r in rows if r["lane"] in ("eld", "fault"))
    assert protected, "no ELD or fault records were produced"
    broker.start()
    try:
        procs.ingest(db_url, broker.url, f"ingest-{unique_id}", fleet)
        assert_cloud_equals_outbox(outbox, db_url, fleet, timeout=120)
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            names = Counter(
                r[0]
                for r in conn.execute(
                    sa.text("SELECT name FROM events WHERE fleet_id = :f"), {"f": fleet}
                )
            )
        engine.dispose()
        assert names["outbox_evicted"] == len(evicted)
        assert names["dtc_new"] >= 2
        # the gaps API tells evicted sequence numbers (never coming) from missing ones
        from cloud.store.records import sequence_gaps

        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            boots = sequence_gaps(conn, fleet, DEVICE)
        engine.dispose()
        assert sum(hi - lo + 1 for b in boots for lo, hi in b.missing) == 0
        assert sum(hi - lo + 1 for b in boots for lo, hi in b.evicted) == sum(
            r["data"]["count"] for r in evicted
        )
    finally:
        procs.stop_all()
        broker.stop()


def test_corrupt_payloads_are_quarantined_and_the_stream_goes_on(
    tmp_path: Path, mqtt_broker: tuple[str, int], procs: Processes, unique_id: str
) -> None:
    fleet, db_url, can_port = f"c{unique_id}", f"sqlite:///{tmp_path / 'cloud.db'}", free_port()
    procs.ingest(db_url, "mqtt://127.0.0.1:1883", f"ingest-{unique_id}", fleet)
    sim = make_sim(20, 200, can_port)
    sim.start()
    injector = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    injector.connect(*mqtt_broker)
    injector.loop_start()
    try:
        outbox = tmp_path / "outbox.db"
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
        wait_for(lambda: len(cloud_records(db_url, fleet, DEVICE)) > 20, 30, "records stored")
        up = topic_for(fleet, DEVICE, "up")
        good = encode_batch(Batch(DEVICE, 1, (Record("event", 1, 1_000, {"name": "x"}),)))
        injected = [
            (up, b""),
            (up, b"garbage that is not a batch"),
            (up, b"FW\x09\x00rest"),  # a codec version nobody knows
            (up, good[:-3]),  # truncated
            (
                up,
                encode_batch(Batch("someone-else", 1, (Record("event", 1, 1_000, {"name": "x"}),))),
            ),
        ]
        for topic, payload in injected:
            injector.publish(topic, payload, qos=1).wait_for_publish(5)
        assert sim.wait_finished(60)
    finally:
        sim.stop()
        injector.loop_stop()
        injector.disconnect()
    assert_cloud_equals_outbox(outbox, db_url, fleet)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        reasons = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT reason FROM quarantine WHERE fleet_id = :f"), {"f": fleet}
            )
        ]
    engine.dispose()
    assert len(reasons) == len(injected), reasons
    assert any("version 9" in r for r in reasons)
    assert any("someone-else" in r or "mismatch" in r or "disagree" in r for r in reasons), reasons
    assert procs.procs["ingest"].poll() is None, "the consumer must keep running"
