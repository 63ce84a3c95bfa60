"""The MQTT consumer against the real Mosquitto: QoS 1, ack after commit, persistent sessions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.db.tables import quarantine, records
from cloud.ingest.consumer import BrokerAddress, IngestConsumer
from cloud.ingest.handler import IngestHandler
from cloud.store import records as rec_store
from cloud.store import trips as trip_store
from cloud.store import vehicles as veh_store
from tests.cloud.factories import batches, drive, payload, up
from tests.cloud.mqtt_helpers import Publisher, forget_session, stored, wait_until
from wire import topic_for

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def broker(mqtt_broker: tuple[str, int]) -> BrokerAddress:
    return BrokerAddress(*mqtt_broker)


@pytest.fixture
def publisher(broker: BrokerAddress, unique_id: str) -> Iterator[Publisher]:
    pub = Publisher(broker.host, broker.port, f"fwtest-pub-{unique_id}")
    yield pub
    pub.close()


def make_consumer(
    engine: Engine, broker: BrokerAddress, client_id: str, fleet: str, shared: bool = False
) -> IngestConsumer:
    return IngestConsumer(
        IngestHandler(engine),
        broker,
        client_id,
        shared=shared,
        fleet=fleet,
        backoff_min_s=0.1,
        backoff_max_s=1.0,
    )


def test_published_batches_are_stored_and_acked(
    sqlite_engine: Engine, broker: BrokerAddress, publisher: Publisher, unique_id: str
) -> None:
    fleet, client_id = f"f{unique_id}", f"fwtest-ingest-{unique_id}"
    recs = drive(seconds_per_trip=30)
    consumer = make_consumer(sqlite_engine, broker, client_id, fleet)
    try:
        consumer.start()
        assert consumer.wait_connected(10), "consumer did not connect"
        for b in batches(recs, "truck", size=20):
            publisher.publish(up(fleet, "truck"), payload(b))
        publisher.publish(up(fleet, "truck"), b"\x00garbage")
        publisher.publish(topic_for(fleet, "truck", "status"), b'{"state": "online"}', retain=True)
        assert wait_until(lambda: stored(sqlite_engine, fleet) == len(recs))
        assert wait_until(lambda: consumer.metrics.get("status_messages") == 1)
        assert wait_until(
            lambda: consumer.metrics.get("acks") == len(batches(recs, "t", size=20)) + 2
        )
    finally:
        consumer.stop()
        forget_session(broker.host, broker.port, client_id)
        publisher.publish(topic_for(fleet, "truck", "status"), b"", retain=True)
    with sqlite_engine.connect() as conn:
        q = conn.execute(sa.select(quarantine).where(quarantine.c.fleet_id == fleet)).one()
        assert veh_store.get_status(conn, fleet, "truck").state == "online"
    assert "undecodable" in q.reason
    assert consumer.metrics.get("records_duplicate") == 0


def test_persistent_session_delivers_what_was_published_while_down(
    sqlite_engine: Engine, broker: BrokerAddress, publisher: Publisher, unique_id: str
) -> None:
    fleet, client_id = f"f{unique_id}", f"fwtest-ingest-{unique_id}"
    recs = drive(seconds_per_trip=60)
    all_batches = batches(recs, "truck", size=10)  # 30 messages
    first = make_consumer(sqlite_engine, broker, client_id, fleet)
    second = make_consumer(sqlite_engine, broker, client_id, fleet)
    third = len(all_batches) // 3
    try:
        first.start()
        assert first.wait_connected(10)
        for b in all_batches[:third]:
            publisher.publish(up(fleet, "truck"), payload(b))
        assert wait_until(lambda: stored(sqlite_engine, fleet) > 0)

        # Stop the consumer while a publisher is mid-stream ...
        def publish(chunk: list) -> None:
            for b in chunk:
                publisher.publish(up(fleet, "truck"), payload(b))

        thread = threading.Thread(target=publish, args=(all_batches[third : 2 * third],))
        thread.start()
        first.stop()
        thread.join(30)
        # ... and publish the rest while it is down.
        publish(all_batches[2 * third :])
        assert not first.connected
        n_down = stored(sqlite_engine, fleet)
        assert n_down <= sum(len(b.records) for b in all_batches[: 2 * third])
        second.start()
        assert wait_until(lambda: stored(sqlite_engine, fleet) == len(recs))
    finally:
        first.stop()
        second.stop()
        forget_session(broker.host, broker.port, client_id)
    with sqlite_engine.connect() as conn:
        gaps = rec_store.sequence_gaps(conn, fleet, "truck")
        n = conn.execute(
            sa.select(sa.func.count()).select_from(records).where(records.c.fleet_id == fleet)
        ).scalar_one()
    assert n == len(recs)
    assert [(g.first_seq, g.last_seq, g.missing) for g in gaps] == [(1, len(recs), [])]
    assert first.metrics.get("records_inserted") + second.metrics.get("records_inserted") == len(
        recs
    )


def test_shared_subscription_workers_split_the_stream(
    engine: Engine, broker: BrokerAddress, publisher: Publisher, unique_id: str
) -> None:
    fleet = f"f{unique_id}"
    ids = [f"fwtest-ingest-{unique_id}-{i}" for i in range(2)]
    workers = [make_consumer(engine, broker, cid, fleet, shared=True) for cid in ids]
    recs = drive(seconds_per_trip=40)
    devices = ("a", "b", "c")
    try:
        for w in workers:
            w.start()
            assert w.wait_connected(10)
        for device in devices:
            for b in batches(recs, device, size=15):
                publisher.publish(up(fleet, device), payload(b))
        assert wait_until(lambda: stored(engine, fleet) == len(devices) * len(recs))
    finally:
        for w in workers:
            w.stop()
        for cid in ids:
            forget_session(broker.host, broker.port, cid, v5=True)
    inserted = [w.metrics.get("records_inserted") for w in workers]
    assert sum(inserted) == len(devices) * len(recs)
    # Workers ran one device's batches concurrently and out of order: results still whole.
    with engine.connect() as conn:
        for device in devices:
            trips = trip_store.all_trips(conn, fleet, device)
            assert [t["end_reason"] for t in trips] == ["trip_end", "trip_end"]
            assert all(t["idle_ms"] > 0 for t in trips)


def test_locked_database_leaves_the_message_unacked_until_it_can_commit(
    tmp_path: Path, broker: BrokerAddress, publisher: Publisher, unique_id: str
) -> None:
    import sqlite3

    from cloud.db.engine import create_engine
    from cloud.db.migrate import upgrade

    path = tmp_path / "locked.db"
    eng = create_engine(f"sqlite:///{path}", busy_timeout_ms=50)
    upgrade(eng)
    fleet, client_id = f"f{unique_id}", f"fwtest-ingest-{unique_id}"
    consumer = make_consumer(eng, broker, client_id, fleet)
    blocker = sqlite3.connect(path, isolation_level=None)
    recs = drive(seconds_per_trip=10)
    try:
        consumer.start()
        assert consumer.wait_connected(10)
        blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        publisher.publish(up(fleet, "truck"), payload(batches(recs, "truck", size=100)[0]))
        assert wait_until(lambda: consumer.metrics.get("errors") >= 2)
        assert consumer.metrics.get("acks") == 0
        blocker.execute("ROLLBACK")
        assert wait_until(lambda: stored(eng, fleet) == min(100, len(recs)))
        assert wait_until(lambda: consumer.metrics.get("acks") == 1)
    finally:
        blocker.close()
        consumer.stop()
        forget_session(broker.host, broker.port, client_id)
        eng.dispose()


def test_consumer_reconnects_after_being_kicked_and_loses_nothing(
    sqlite_engine: Engine, broker: BrokerAddress, publisher: Publisher, unique_id: str
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    fleet, client_id = f"f{unique_id}", f"fwtest-ingest-{unique_id}"
    recs = drive(seconds_per_trip=40)
    chunks = batches(recs, "truck", size=10)
    half = len(chunks) // 2
    consumer = make_consumer(sqlite_engine, broker, client_id, fleet)
    # A second client with the same id takes the session over (the broker drops the
    # consumer), receives messages and never acknowledges them.
    rogue = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
    )
    try:
        consumer.start()
        assert consumer.wait_connected(10)
        for b in chunks[:half]:
            publisher.publish(up(fleet, "truck"), payload(b))
        rogue.connect(broker.host, broker.port, 30)
        for b in chunks[half:]:
            publisher.publish(up(fleet, "truck"), payload(b))
        for _ in range(10):
            rogue.loop(0.02)
        rogue.disconnect()
        assert wait_until(lambda: stored(sqlite_engine, fleet) == len(recs))
        assert wait_until(lambda: consumer.connected)
    finally:
        consumer.stop()
        forget_session(broker.host, broker.port, client_id)
    assert consumer.metrics.get("connects") >= 2
    assert consumer.metrics.get("disconnects") >= 1
    with sqlite_engine.connect() as conn:
        gaps = rec_store.sequence_gaps(conn, fleet, "truck")
    assert [(g.first_seq, g.last_seq, g.missing) for g in gaps] == [(1, len(recs), [])]
