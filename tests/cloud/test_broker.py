"""The embedded amqtt broker: a paho client publishes at QoS 1, the consumer stores it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from cloud.broker import EmbeddedBroker
from cloud.ingest.consumer import BrokerAddress, IngestConsumer
from cloud.ingest.handler import IngestHandler
from tests.cloud.factories import batches, drive, payload, up
from tests.cloud.mqtt_helpers import Publisher, stored, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    yield broker
    broker.stop()


def test_embedded_broker_carries_qos1_into_the_database(
    embedded: EmbeddedBroker, sqlite_engine: Engine
) -> None:
    address = BrokerAddress("127.0.0.1", embedded.port)
    recs = drive(seconds_per_trip=20)
    consumer = IngestConsumer(IngestHandler(sqlite_engine), address, "cloud-ingest")
    publisher = Publisher("127.0.0.1", embedded.port, "agent-1")
    try:
        consumer.start()
        assert consumer.wait_connected(10)
        chunks = batches(recs, "van", size=25)
        for b in chunks[:2]:
            publisher.publish(up("demo", "van"), payload(b))
        assert wait_until(lambda: stored(sqlite_engine, "demo") == 50)
        # The session outlives the consumer: what is published meanwhile arrives later.
        consumer.stop()
        for b in chunks[2:]:
            publisher.publish(up("demo", "van"), payload(b))
        again = IngestConsumer(IngestHandler(sqlite_engine), address, "cloud-ingest")
        again.start()
        try:
            assert wait_until(lambda: stored(sqlite_engine, "demo") == len(recs))
        finally:
            again.stop()
    finally:
        consumer.stop()
        publisher.close()


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        broker = EmbeddedBroker("127.0.0.1", s.getsockname()[1])
        with pytest.raises(RuntimeError, match="embedded MQTT broker failed"):
            broker.start()
