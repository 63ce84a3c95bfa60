"""The uplink against real brokers: everything arrives, rows are forgotten only after
PUBACK, an outage loses nothing, the newest position goes first after a reconnect."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from agent.model import LANE_ELD, LANE_SAMPLE
from agent.outbox import OutboxReader, OutboxWriter
from agent.uplink import Uplink, parse_mqtt_url
from wire import decode_batch
from wire.topics import topic_for


class Collector:
    """A real MQTT subscriber that decodes every batch it receives."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.records: list[tuple[int, int, str, int]] = []
        self.statuses: list[bytes] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert subscribed.wait(10), "the broker did not confirm the subscription"

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        if msg.topic.endswith("/status"):
            self.statuses.append(msg.payload)
            return
        batch = decode_batch(msg.payload)
        with self.lock:
            self.records.extend((batch.boot_id, r.seq, r.kind, r.time_ms) for r in batch.records)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _fill(path: Path, n: int, start_ms: int = 1_700_000_000_000) -> OutboxWriter:
    out = OutboxWriter(path)
    for i in range(n):
        out.append(
            "position",
            start_ms + i * 1000,
            {"lat": 45 + i * 1e-4, "lon": 7.0, "valid": True},
            LANE_SAMPLE,
        )
    out.append("event", start_ms + n * 1000, {"name": "duty_status", "status": "on_duty"}, LANE_ELD)
    out.flush()
    return out


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_every_record_arrives_once_and_is_forgotten_after_puback(
    tmp_path: Path, mqtt_broker: tuple[str, int], unique_id: str
) -> None:
    host, port = mqtt_broker
    out = _fill(tmp_path / "o.db", 1000)
    collector = Collector(host, port, f"fw/v1/f{unique_id}/+/+")
    uplink = Uplink(
        lambda: OutboxReader(tmp_path / "o.db"),
        f"f{unique_id}",
        "truck",
        f"mqtt://{host}:{port}",
        batch_max_records=120,
        batch_max_age_s=0.2,
    )
    uplink.start()
    try:
        assert _wait(lambda: len(collector.records) >= 1001)
        reader = OutboxReader(tmp_path / "o.db")
        assert _wait(lambda: reader.stats()["unsent"] == 0)
        reader.close()
    finally:
        uplink.stop()
        out.close()
    keys = [(b, s) for b, s, _, _ in collector.records]
    # the newest position goes first after connect, then the backlog oldest-first
    assert collector.records[0][1] == 1000
    assert len(set(keys)) == 1001 and sorted(s for _, s in set(keys)) == list(range(1, 1002))
    assert uplink.counters["acked_records"] == 1001
    assert b'"online"' in collector.statuses[0]
    # stop() drops the connection without DISCONNECT: the broker publishes the last will
    assert _wait(lambda: collector.statuses[-1] == b'{"state": "offline"}', 5)
    collector.close()


def test_broker_outage_loses_nothing(tmp_path: Path, private_mosquitto, unique_id: str) -> None:  # type: ignore[no-untyped-def]
    out = _fill(tmp_path / "o.db", 300)
    uplink = Uplink(
        lambda: OutboxReader(tmp_path / "o.db"),
        "f",
        f"d{unique_id}",
        private_mosquitto.url,
        batch_max_records=50,
        batch_max_age_s=0.1,
    )
    uplink.start()  # the broker is not there yet
    try:
        assert _wait(lambda: uplink.counters["connect_failures"] >= 1, 10)
        reader = OutboxReader(tmp_path / "o.db")
        assert reader.stats()["unsent"] == 301  # nothing forgotten while nobody acknowledged
        private_mosquitto.start()
        collector = Collector("127.0.0.1", private_mosquitto.port, "fw/v1/f/+/up")
        assert _wait(lambda: reader.stats()["unsent"] == 0, 40)
        assert _wait(lambda: len({(b, s) for b, s, _, _ in collector.records}) == 301, 10)
        # more records while connected, then the broker goes away mid-stream
        for i in range(200):
            out.append("position", 1_800_000_000_000 + i, {"lat": 1.0, "lon": 2.0}, LANE_SAMPLE)
            if i == 100:
                out.flush()
                private_mosquitto.stop()
        out.flush()
        time.sleep(1.0)
        private_mosquitto.start()
        assert _wait(lambda: reader.stats()["unsent"] == 0, 60)
        collector.close()
        reader.close()
    finally:
        uplink.stop()
        out.close()


def test_mqtt_urls_are_checked() -> None:
    addr = parse_mqtt_url("mqtts://u%40x:p@broker.example:8884")
    assert (addr.host, addr.port, addr.tls, addr.username, addr.password) == (
        "broker.example",
        8884,
        True,
        "u@x",
        "p",
    )
    assert parse_mqtt_url("mqtt://10.0.0.1").port == 1883
    import pytest

    from agent.errors import ConfigError

    with pytest.raises(ConfigError, match="expected mqtt://"):
        parse_mqtt_url("http://x")
    assert topic_for("f", "d", "up") == "fw/v1/f/d/up"


def test_a_record_the_codec_refuses_goes_to_dead_letters_and_the_rest_flows(
    tmp_path: Path, mqtt_broker: tuple[str, int], unique_id: str
) -> None:
    import sqlite3

    host, port = mqtt_broker
    out = OutboxWriter(tmp_path / "o.db")
    for i in range(10):
        # 2**70 does not fit the wire's 64-bit integers: a bug upstream, not a reason to stall
        value = 2**70 if i == 4 else i
        out.append("engine", 1_700_000_000_000 + i, {"x": value}, LANE_SAMPLE)
    out.flush()
    collector = Collector(host, port, f"fw/v1/f{unique_id}/+/up")
    uplink = Uplink(
        lambda: OutboxReader(tmp_path / "o.db"),
        f"f{unique_id}",
        "truck",
        f"mqtt://{host}:{port}",
        batch_max_age_s=0.1,
    )
    uplink.start()
    try:
        reader = OutboxReader(tmp_path / "o.db")
        assert _wait(lambda: reader.stats()["unsent"] == 0)
        assert reader.stats()["dead_letters"] == 1
        reader.close()
        assert _wait(
            lambda: sorted({s for _, s, _, _ in collector.records}) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
        )
    finally:
        uplink.stop()
        collector.close()
        out.close()
    conn = sqlite3.connect(tmp_path / "o.db")
    ((seq, reason),) = conn.execute("SELECT seq, reason FROM dead_letters").fetchall()
    conn.close()
    assert seq == 5 and "64 bits" in reason
