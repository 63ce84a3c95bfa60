"""MQTT uplink: the only module of the agent that talks to paho.

One thread owns the client: it connects (backoff with jitter), reads unsent rows from
the outbox, packs them into batches (wire codec), publishes them at QoS 1 and marks
rows sent only when the broker's PUBACK for that message arrives. After a reconnect
the newest position goes first (so the map is current at once), then two lanes run
side by side: live rows as they come, and the backlog oldest-first, rate-limited so a
long outage does not starve live data.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

from agent.errors import ConfigError
from agent.outbox import OutboxReader, OutboxRow
from wire.codec import encode_batch
from wire.records import KIND_POSITION, Batch, Record
from wire.topics import topic_for

log = logging.getLogger("fleetwire.agent.uplink")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` or ``mqtts://`` (TLS, default port 8883)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parsed.hostname:
        raise ConfigError(
            f"uplink.mqtt_url {url!r}: expected mqtt://host[:port] or mqtts://host[:port]"
        )
    tls = parsed.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        parsed.hostname,
        parsed.port or (8883 if tls else 1883),
        tls,
        unquote(parsed.username) if parsed.username else None,
        unquote(parsed.password) if parsed.password else None,
    )


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self, n: int) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n or self.tokens >= self.rate:  # a batch bigger than 1 s of rate
            self.tokens -= n
            return True
        return False


class Uplink:
    """Publishes the outbox over MQTT; ``start()`` / ``stop()`` run and end its thread."""

    def __init__(
        self,
        reader_factory: Callable[[], OutboxReader],
        fleet: str,
        device_id: str,
        mqtt_url: str,
        *,
        tls_ca: str = "",
        keepalive_s: int = 30,
        batch_max_records: int = 300,
        batch_max_bytes: int = 16384,
        batch_max_age_s: float = 5.0,
        inflight: int = 8,
        backlog_records_per_s: float = 2000.0,
        status_period_s: float = 60.0,
        inflight_timeout_s: float = 60.0,
        health: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.broker = parse_mqtt_url(mqtt_url)
        self._reader_factory = reader_factory
        self.fleet, self.device_id = fleet, device_id
        self.topic_up = topic_for(fleet, device_id, "up")
        self.topic_status = topic_for(fleet, device_id, "status")
        self.topic_down = topic_for(fleet, device_id, "down")
        self.topic_down_ack = topic_for(fleet, device_id, "down/ack")
        self._commands: list[bytes] = []
        self.downlink_ready = False  # the broker confirmed our subscription to ``down``
        self.command_handler: Callable[[bytes], dict[str, Any]] | None = None
        self.max_records, self.max_bytes = batch_max_records, batch_max_bytes
        self.max_age_s, self.window = batch_max_age_s, inflight
        self.status_period_s, self.inflight_timeout_s = status_period_s, inflight_timeout_s
        self._bucket = _TokenBucket(backlog_records_per_s)
        self._health = health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._refused = False  # the broker said no (credentials): retry slowly
        self._acked: list[int] = []
        self._inflight: dict[int, tuple[list[int], float]] = {}  # mid -> (row ids, sent at)
        self._inflight_ids: set[int] = set()
        self._live_cursor = 0
        self._backlog_cursor = 0
        self._watermark = 0
        self._live_seen: float | None = None
        self.counters = {
            "messages": 0,
            "records": 0,
            "bytes": 0,
            "position_records": 0,
            "acked_records": 0,
            "connects": 0,
            "connect_failures": 0,
            "encode_errors": 0,
        }
        self.last_error = ""
        self._reader: OutboxReader | None = None
        self.client = self._make_client(tls_ca, keepalive_s)

    # ------------------------------------------------------------ paho set-up
    def _make_client(self, tls_ca: str, keepalive_s: int) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"fw-agent-{self.fleet}-{self.device_id}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=tls_ca or None)
        client.will_set(self.topic_status, json.dumps({"state": "offline"}), qos=1, retain=True)
        client.max_inflight_messages_set(max(self.window, 1))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._keepalive = keepalive_s
        return client

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if rc.is_failure:
            self.last_error = f"broker refused the connection: {rc}"
            if not self._refused:  # log once; the outbox keeps everything meanwhile
                log.error(
                    "event=connect_refused reason=%r advice=%r",
                    str(rc),
                    "check uplink.mqtt_url credentials and the broker's ACL",
                )
            self._refused = True
            return
        self._refused = False
        self._connected = True
        self.counters["connects"] += 1
        client.subscribe(self.topic_down, qos=1)
        log.info("event=connected broker=%s:%s", self.broker.host, self.broker.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if self._connected:
            log.warning("event=disconnected reason=%s", rc)
        self._connected = False

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any
    ) -> None:
        self.downlink_ready = True

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._commands.append(bytes(msg.payload))

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any
    ) -> None:
        self._acked.append(mid)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` for outstanding PUBACKs, then drop the connection
        without DISCONNECT so the broker publishes our last will."""
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline and self._connected:
            time.sleep(0.05)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout)
        try:
            sock = self.client.socket()
            if sock is not None:
                sock.close()
        except OSError:
            pass

    @property
    def connected(self) -> bool:
        return self._connected

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        reader = self._reader = self._reader_factory()
        backoff = 0.5
        next_status = 0.0
        try:
            while not self._stop.is_set():
                if not self._connected:
                    if not self._connect_once():
                        # refused credentials are not hammered: a long, jittered wait
                        base = 60.0 if self._refused else backoff
                        delay = base * random.uniform(0.5, 1.5)
                        backoff = min(backoff * 2, 30.0)
                        self._stop.wait(delay)
                        continue
                    backoff = 0.5
                    self._after_connect(reader)
                    next_status = 0.0
                self.client.loop(timeout=0.02)
                if not self._connected:
                    continue
                self._take_acks(reader)
                self._run_commands()
                self._expire_inflight()
                if time.monotonic() >= next_status:
                    self._publish_status(reader)
                    next_status = time.monotonic() + self.status_period_s
                self._send(reader)
        except Exception:  # the uplink must never die silently
            log.exception("event=uplink_crashed")
            raise
        finally:
            reader.close()

    def _connect_once(self) -> bool:
        try:
            if self.counters["connects"] == 0 and self.counters["connect_failures"] == 0:
                self.client.connect(self.broker.host, self.broker.port, self._keepalive)
            else:
                self.client.reconnect()
        except (OSError, mqtt.WebsocketConnectionError, ValueError) as exc:
            self.counters["connect_failures"] += 1
            self.last_error = f"cannot reach broker {self.broker.host}:{self.broker.port}: {exc}"
            if (
                self.counters["connect_failures"] in (1, 10)
                or self.counters["connect_failures"] % 100 == 0
            ):
                log.warning("event=connect_failed error=%r", str(exc))
            return False
        deadline = time.monotonic() + 10
        while not self._connected and time.monotonic() < deadline and not self._stop.is_set():
            if self.client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
        if not self._connected:
            self.counters["connect_failures"] += 1
        return self._connected

    def _after_connect(self, reader: OutboxReader) -> None:
        # Everything committed so far is backlog; newer rows are the live lane.
        self._watermark = reader.max_id()
        self._live_cursor = self._watermark
        self._backlog_cursor = 0
        newest = reader.newest_unsent(KIND_POSITION)
        if newest is not None and newest.id not in self._inflight_ids:
            self._publish_rows([newest])

    def _publish_status(self, reader: OutboxReader) -> None:
        status = {"state": "online", "time_ms": int(time.time() * 1000)}
        try:
            status["outbox"] = reader.stats()
            status["uplink"] = dict(self.counters)
            status["health"] = self._health()
        except Exception as exc:  # health is best effort; never block the uplink
            status["health_error"] = str(exc)
        self.client.publish(self.topic_status, json.dumps(status, default=str), qos=1, retain=True)

    def _run_commands(self) -> None:
        if not self._commands or self.command_handler is None:
            return
        commands, self._commands = self._commands, []
        for payload in commands:
            answer = self.command_handler(payload)
            self.client.publish(self.topic_down_ack, json.dumps(answer, default=str), qos=1)

    def _take_acks(self, reader: OutboxReader) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        ids: list[int] = []
        for mid in acked:
            entry = self._inflight.pop(mid, None)
            if entry:
                ids.extend(entry[0])
        if ids:
            reader.mark_sent(ids)
            self._inflight_ids.difference_update(ids)
            self.counters["acked_records"] += len(ids)

    def _expire_inflight(self) -> None:
        now = time.monotonic()
        stale = [
            mid for mid, (_, at) in self._inflight.items() if now - at > self.inflight_timeout_s
        ]
        for mid in stale:
            ids, _ = self._inflight.pop(mid)
            self._inflight_ids.difference_update(ids)
            self._backlog_cursor = 0  # they are unsent again; the backlog lane finds them
            self._watermark = max(self._watermark, max(ids))

    def _send(self, reader: OutboxReader) -> None:
        if len(self._inflight) >= self.window:
            return
        live = self._fresh(reader.unsent(self._live_cursor, self.max_records))
        if live:
            if self._live_seen is None:
                self._live_seen = time.monotonic()
            if (
                len(live) >= self.max_records
                or time.monotonic() - self._live_seen >= self.max_age_s
            ):
                self._live_cursor = self._publish_rows(live)
                self._live_seen = None
        if len(self._inflight) >= self.window or self._backlog_cursor >= self._watermark:
            return
        rows = reader.unsent(self._backlog_cursor, self.max_records, before_id=self._watermark)
        if not rows:
            self._backlog_cursor = self._watermark
            return
        fresh = self._fresh(rows)
        if not fresh:
            self._backlog_cursor = rows[-1].id
        elif self._bucket.take(len(fresh)):
            self._backlog_cursor = self._publish_rows(fresh)

    def _fresh(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        return [r for r in rows if r.id not in self._inflight_ids]

    def _publish_rows(self, rows: list[OutboxRow]) -> int:
        """Publish one batch (one boot, within the byte cap); returns the last row id sent."""
        boot = rows[0].boot_id
        rows = [r for r in rows if r.boot_id == boot] or rows[:1]
        while True:
            batch = Batch(
                self.device_id,
                boot,
                tuple(Record(r.kind, r.seq, r.time_ms, r.data) for r in rows),
                int(time.time() * 1000),
            )
            try:
                payload = encode_batch(batch)
            except ValueError as exc:
                # A record the codec cannot carry is a bug upstream: narrow it down to
                # the one record and move that to dead_letters, so the rest flows.
                if len(rows) == 1:
                    self.counters["encode_errors"] += 1
                    log.error("event=dead_letter seq=%d error=%r", rows[0].seq, str(exc))
                    if self._reader is not None:
                        self._reader.dead_letter(rows[0].id, str(exc))
                    return rows[0].id
                rows = rows[: len(rows) // 2]
                continue
            if len(payload) <= self.max_bytes or len(rows) == 1:
                break
            rows = rows[: len(rows) // 2]
        info = self.client.publish(self.topic_up, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            self.last_error = f"publish failed: {mqtt.error_string(info.rc)}"
            return rows[0].id - 1
        ids = [r.id for r in rows]
        self._inflight[info.mid] = (ids, time.monotonic())
        self._inflight_ids.update(ids)
        self.counters["messages"] += 1
        self.counters["records"] += len(rows)
        self.counters["bytes"] += len(payload)
        self.counters["position_records"] += sum(1 for r in rows if r.kind == KIND_POSITION)
        return rows[-1].id

    def health(self) -> dict[str, Any]:
        return {
            "connected": self._connected,
            "inflight_messages": len(self._inflight),
            "last_error": self.last_error,
            **self.counters,
        }
