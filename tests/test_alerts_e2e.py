"""The real truck capture through the agent's decoder and detectors into the cloud's alerts.

``css_11111111_j1939_heavy_duty_first30s.candump.log`` holds a DM1 with four active faults
(SPN/FMI 980/9, 3216/20, 609/9, 609/12) whose lamp byte says MIL on steady, red stop and
amber off, protect not available: four fault alerts, severity medium, each exactly once —
also when the batches are delivered twice, or late and out of order. A receiving webhook
gets each alert once, signed; the MQTT alerts topic carries them too.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

from agent.decode.can_decoder import CanDecoder
from agent.detectors import DetectorChain
from agent.replay_can import _messages
from cloud.alerts.delivery import DeliveryWorker, RetryPolicy, verify
from cloud.alerts.mqtt_out import AlertsMqttPublisher, alerts_topic
from cloud.db.engine import create_engine
from cloud.db.migrate import upgrade
from cloud.db.tables_alerts import alerts
from cloud.ingest.handler import IngestHandler
from cloud.store import alerts as alert_store
from tests.cloud.mqtt_helpers import wait_until
from tests.conftest import MQTT_HOST, MQTT_PORT, SHARED_DATA, free_port, need_service
from wire import Batch, Record, encode_batch, topic_for

TRUCK = "css_11111111_j1939_heavy_duty_first30s.candump.log"
EXPECTED = {(980, 9), (3216, 20), (609, 9), (609, 12)}
ENGINE_SIGNALS = (
    "Vehicle.Speed",
    "Vehicle.Powertrain.CombustionEngine.Speed",
    "Vehicle.Powertrain.CombustionEngine.ECT",
    "Vehicle.Powertrain.CombustionEngine.EOP",
    "Vehicle.TraveledDistance",
    "Vehicle.LowVoltageBattery.CurrentVoltage",
)


def truck_records() -> list[Record]:
    """What the agent would send: its events plus 1 Hz engine samples, in event-time order."""
    path = SHARED_DATA / "can" / TRUCK
    if not path.is_file():
        pytest.fail(f"truck capture missing: {path}")
    decoder, chain = CanDecoder(), DetectorChain()
    latest: dict[str, Any] = {}
    items: list[tuple[int, int, str, dict[str, Any]]] = []
    next_sample_ms: int | None = None
    counts: Counter[str] = Counter()
    for msg in _messages(str(path), counts):
        for sig in decoder.feed(msg):
            if sig.name in ENGINE_SIGNALS and sig.value is not None:
                latest[sig.name] = sig.value
            for ev in chain.feed(sig):
                items.append((ev.time_ms, 0, "event", {"name": ev.name, **ev.attrs}))
            if next_sample_ms is None:
                next_sample_ms = sig.time_ms
            if sig.time_ms >= next_sample_ms and latest:
                items.append((sig.time_ms, 1, "engine", dict(latest)))
                next_sample_ms = sig.time_ms + 1000
    decoder.flush()
    items.sort(key=lambda i: (i[0], i[1]))
    return [Record(kind, seq, t, data) for seq, (t, _, kind, data) in enumerate(items, start=1)]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return truck_records()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'cloud.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    eng = create_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()


def chunks(recs: list[Record], device: str, size: int) -> list[Batch]:
    return [Batch(device, 7, tuple(recs[i : i + size])) for i in range(0, len(recs), size)]


def fault_alerts(engine: Engine, fleet: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alerts).where(alerts.c.fleet_id == fleet, alerts.c.kind == "fault")
        )
        return [dict(r._mapping) for r in rows]


def test_capture_gives_the_four_dm1_faults(records: list[Record]) -> None:
    faults = [r.data["fault"] for r in records if r.data.get("name") == "dtc_new"]
    assert {(f["spn"], f["fmi"]) for f in faults} == EXPECTED
    assert len(faults) == 4


def test_four_alerts_medium_once_even_redelivered(engine: Engine, records: list[Record]) -> None:
    fleet, device = "truckfleet", "truck-1"
    handler = IngestHandler(engine)
    topic = topic_for(fleet, device, "up")
    batches = chunks(records, device, 10)
    for b in batches:
        handler.handle(topic, encode_batch(b))
    for b in batches:  # the broker redelivers everything
        handler.handle(topic, encode_batch(b))
    got = fault_alerts(engine, fleet)
    assert sorted((a["details"]["spn"], a["details"]["fmi"]) for a in got) == sorted(EXPECTED)
    for a in got:
        assert a["severity"] == "medium", a
        assert a["details"]["severity_reason"] == "MIL on"
        assert a["status"] == "open"
        assert a["details"]["lamps"]["mil"] == "on"
        # the engine snapshot from the first occurrence is attached
        assert a["details"]["snapshot"]["Vehicle.Powertrain.CombustionEngine.ECT"]["value"] == 71.0
    spn_3216 = next(a for a in got if a["details"]["spn"] == 3216)
    assert "Aftertreatment 1 intake NOx" in spn_3216["title"]
    with engine.connect() as conn:
        opened = [e for e in alert_store.events_after(conn, fleet, 0) if e.type == "alert.opened"]
    assert Counter(e.alert_id for e in opened) == Counter({a["id"]: 1 for a in got})


def test_late_and_out_of_order_alert_once_marked_late(
    engine: Engine, records: list[Record]
) -> None:
    fleet, device = "latefleet", "truck-2"
    handler = IngestHandler(engine)  # wall clock: the 2021 capture arrives years late
    topic = topic_for(fleet, device, "up")
    batches = chunks(records, device, 25)
    for b in reversed(batches):
        handler.handle(topic, encode_batch(b))
    for b in batches[::2]:
        handler.handle(topic, encode_batch(b))
    got = fault_alerts(engine, fleet)
    assert len(got) == 4
    assert all(a["late"] and a["severity"] == "medium" for a in got)
    assert {a["occurrences"] for a in got} == {1}


def test_debounce_holds_back_a_fault_until_the_vehicle_time_passed(
    engine: Engine, records: list[Record]
) -> None:
    fleet, device = "debouncefleet", "truck-3"
    handler = IngestHandler(engine)
    topic = topic_for(fleet, device, "up")
    fault_ms = next(r.time_ms for r in records if r.data.get("name") == "dtc_new")
    # records up to 5 s after the faults: not yet confirmed with the default 10 s debounce
    early = [r for r in records if r.time_ms <= fault_ms + 5000]
    handler.handle(topic, encode_batch(Batch(device, 7, tuple(early))))
    assert fault_alerts(engine, fleet) == []
    rest = [r for r in records if r.time_ms > fault_ms + 5000]
    handler.handle(topic, encode_batch(Batch(device, 7, tuple(rest))))
    got = fault_alerts(engine, fleet)
    assert len(got) == 4
    assert {a["started_event_ms"] for a in got} == {fault_ms}


class _Receiver(http.server.BaseHTTPRequestHandler):
    secret = ""
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(
            self.secret,
            self.headers["X-Fleetwire-Timestamp"],
            body,
            self.headers["X-Fleetwire-Signature"],
        )
        self.send_response(204 if ok else 401)
        self.end_headers()
        if ok:
            self.received.append(json.loads(body))

    def log_message(self, *args: Any) -> None:
        return


def test_webhook_and_mqtt_get_the_truck_alerts(
    engine: Engine, records: list[Record], unique_id: str
) -> None:
    need_service("Mosquitto", MQTT_HOST, MQTT_PORT)
    fleet, device = f"e2e{unique_id}", "truck-4"
    secret = "s3cret-" + unique_id
    _Receiver.secret, _Receiver.received = secret, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got_mqtt: list[dict[str, Any]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"alerts-sub-{unique_id}")
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got_mqtt.append(json.loads(m.payload))
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(MQTT_HOST, MQTT_PORT, 30)
    sub.subscribe(alerts_topic(fleet), qos=1)
    sub.loop_start()
    publisher = AlertsMqttPublisher(MQTT_HOST, MQTT_PORT, f"alerts-pub-{unique_id}")
    try:
        assert subscribed.wait(10)
        with engine.begin() as conn:
            alert_store.create_webhook(
                conn,
                fleet,
                url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                secret=secret,
                events=["alert.opened"],
                min_severity="low",
                enabled=True,
                description="maintenance team",
                now_ms=0,
            )
        handler = IngestHandler(engine)
        for b in chunks(records, device, 50):
            handler.handle(topic_for(fleet, device, "up"), encode_batch(b))
        worker = DeliveryWorker(engine, policy=RetryPolicy(base_s=0.01), mqtt_publisher=publisher)
        assert wait_until(lambda: publisher.client.is_connected(), 10)
        worker.run_once()
        assert wait_until(lambda: len(got_mqtt) >= 4, 10)
    finally:
        publisher.close()
        sub.loop_stop()
        sub.disconnect()
        server.shutdown()
        server.server_close()
    hooks = _Receiver.received
    assert sorted(
        (h["alert"]["details"]["spn"], h["alert"]["details"]["fmi"]) for h in hooks
    ) == sorted(EXPECTED)
    assert all(h["type"] == "alert.opened" and h["alert"]["severity"] == "medium" for h in hooks)
    assert Counter(h["alert"]["id"] for h in hooks).most_common(1)[0][1] == 1
    opened = [m for m in got_mqtt if m["type"] == "alert.opened"]
    assert {
        (m["alert"]["details"]["spn"], m["alert"]["details"]["fmi"]) for m in opened
    } == EXPECTED
