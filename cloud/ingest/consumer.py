"""MQTT transport of the ingest: the only paho user on the cloud side.

One network thread owns the paho client (connect, ``loop()``, reconnect with backoff
and jitter, sending acknowledgements); one worker thread hands each message to the
``IngestHandler`` and, once the handler's transaction has committed, queues the
acknowledgement back to the network thread (manual ack, QoS 1). The session is
persistent (stable client id, ``clean_session=False`` / MQTT 5 session expiry), so
messages published while the consumer is down wait in the broker, and a message whose
ack never left (crash, lost connection) is delivered again and absorbed by the
handler's idempotent insert.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.ingest.handler import DatabaseUnavailable, IngestHandler
from cloud.logs import kv
from cloud.metrics import Metrics
from wire.topics import INGEST_SHARE_GROUP, PREFIX

log = logging.getLogger(__name__)


def topic_filters(fleet: str = "+") -> tuple[str, str]:
    """Uplink and status filters for one fleet, or every fleet with ``+``."""
    return f"{PREFIX}/{fleet}/+/up", f"{PREFIX}/{fleet}/+/status"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: parsed from ``mqtt://user:pass@host:port`` (``mqtts://`` = TLS)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} in {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # which connection delivered it; acks only go back on that one


class IngestConsumer:
    """Subscribe to every device's uplink and status, store through ``handler``, ack after commit.

    ``start()`` returns at once (threads); ``stop()`` finishes the message in hand, sends
    its ack and disconnects. Unhandled messages stay in the broker's session.
    """

    def __init__(
        self,
        handler: IngestHandler,
        broker: BrokerAddress,
        client_id: str,
        *,
        shared: bool = False,
        session_expiry_s: int = 7 * 24 * 3600,
        keepalive_s: int = 30,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        metrics: Metrics | None = None,
        fleet: str = "+",
    ) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a stable, non-empty client id")
        self.handler = handler
        self.broker = broker
        self.client_id = client_id
        self.shared = shared
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.metrics = metrics or handler.metrics
        self.fleet = fleet  # "+" = every fleet; one id confines this consumer to one tenant
        self._inbox: queue.Queue[_Message] = queue.Queue(maxsize=10_000)
        self._acks: queue.Queue[tuple[int, int, int]] = queue.Queue()
        self._stop = threading.Event()
        self._worker_done = threading.Event()
        self._connected = threading.Event()  # connected and subscribed
        self._link_up = False  # CONNACK accepted, not yet disconnected (network thread only)
        self._generation = 0
        self._subscribe_mid: int | None = None
        self._auth_refused = False
        self._threads: list[threading.Thread] = []
        self._client = self._make_client()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._threads:
            raise RuntimeError("consumer already started")
        self._threads = [
            threading.Thread(target=self._network_main, name="ingest-mqtt", daemon=True),
            threading.Thread(target=self._worker_main, name="ingest-worker", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the message in hand: its commit and ack complete, the rest stays queued."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads[1:]:  # worker first: the network thread then flushes its acks
            t.join(max(0.0, deadline - time.monotonic()))
        self._worker_done.set()
        if self._threads:
            self._threads[0].join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def __enter__(self) -> IngestConsumer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """True while connected to the broker with the subscriptions acknowledged."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until connected and subscribed; False when the timeout passed first."""
        return self._connected.wait(timeout_s)

    # ------------------------------------------------------------------ paho client
    def _make_client(self) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.shared else mqtt.MQTTv311
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if protocol == mqtt.MQTTv5 else False,
            protocol=protocol,
            reconnect_on_failure=False,  # reconnecting is ours (backoff + jitter)
            manual_ack=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set_context(ssl.create_default_context())
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _subscriptions(self) -> list[tuple[str, Any]]:
        uplink, status = topic_filters(self.fleet)
        if self.shared:
            opts = SubscribeOptions(qos=1)
            # Status stays a plain subscription in every worker: retained messages are not
            # delivered to shared subscriptions, and applying a status twice is harmless.
            return [(f"$share/{INGEST_SHARE_GROUP}/{uplink}", opts), (status, opts)]
        return [(uplink, 1), (status, 1)]

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._auth_refused = reason.value in (
                0x86,
                0x87,
                4,
                5,
            )  # bad credentials / not authorised
            log.error(kv("mqtt_connect_refused", reason=str(reason), client_id=self.client_id))
            return
        self._generation += 1
        self._link_up = True
        _rc, self._subscribe_mid = client.subscribe(self._subscriptions())
        self.metrics.inc("connects")
        log.info(
            kv(
                "mqtt_connected",
                host=self.broker.host,
                port=self.broker.port,
                client_id=self.client_id,
                session_present=bool(flags.session_present),
                shared=self.shared,
            )
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[Any], _props: Any
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            log.error(kv("mqtt_subscribe_refused", reasons=",".join(refused)))
            return
        self._connected.set()  # connected *and* subscribed: messages will flow
        log.info(kv("mqtt_subscribed", filters=",".join(t for t, _ in self._subscriptions())))

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if self._link_up:
            self.metrics.inc("disconnects")
        self._link_up = False
        self._connected.clear()
        log.info(kv("mqtt_disconnected", reason=str(reason), client_id=self.client_id))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Runs on the network thread: only hand the message over.
        self._inbox.put(_Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation))

    # ------------------------------------------------------------------ network thread
    def _network_main(self) -> None:
        backoff = self.backoff_min_s
        while not self._stop.is_set():
            try:
                self._connect()
            except (OSError, ValueError) as exc:
                log.warning(kv("mqtt_connect_failed", error=exc, retry_in_s=round(backoff, 2)))
                self._sleep(backoff)
                backoff = self._next_backoff(backoff)
                continue
            while True:
                self._flush_acks()
                rc = self._client.loop(timeout=0.02)
                if self._connected.is_set():
                    backoff = self.backoff_min_s
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if self._stop.is_set() and self._worker_done.is_set():
                    self._flush_acks()
                    self._client.loop(timeout=0.05)  # push the last acks out
                    self._client.disconnect()
                    self._client.loop(timeout=0.05)
                    break
            self._link_up = False
            self._connected.clear()
            if self._stop.is_set():
                break
            wait = self.backoff_max_s if self._auth_refused else backoff
            log.info(kv("mqtt_reconnect_wait", seconds=round(wait, 2)))
            self._sleep(wait)
            backoff = self._next_backoff(backoff)
        self._connected.clear()

    def _connect(self) -> None:
        if self.shared:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            self._client.connect(
                self.broker.host,
                self.broker.port,
                self.keepalive_s,
                clean_start=False,
                properties=props,
            )
        else:
            self._client.connect(self.broker.host, self.broker.port, self.keepalive_s)

    def _flush_acks(self) -> None:
        while True:
            try:
                mid, qos, generation = self._acks.get_nowait()
            except queue.Empty:
                return
            # An ack for a message of an earlier connection would name the wrong packet:
            # that message has been or will be delivered again, and acked then. (Not
            # waiting for SUBACK: a resumed session may deliver before it.)
            if generation == self._generation and self._link_up:
                self._client.ack(mid, qos)
                self.metrics.inc("acks")

    def _next_backoff(self, current: float) -> float:
        return min(self.backoff_max_s, current * 2)

    def _sleep(self, seconds: float) -> None:
        # Full jitter keeps a fleet of consumers from reconnecting in lock-step.
        self._stop.wait(random.uniform(seconds / 2, seconds))

    # ------------------------------------------------------------------ worker thread
    def _worker_main(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    msg = self._inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                if self._handle_until_done(msg):
                    self._acks.put((msg.mid, msg.qos, msg.generation))
        finally:
            self._worker_done.set()

    def _handle_until_done(self, msg: _Message) -> bool:
        """Handle one message, retrying while the database is down; False if stopped first."""
        backoff = self.backoff_min_s
        while True:
            try:
                self.handler.handle(msg.topic, msg.payload)
                return True
            except DatabaseUnavailable as exc:
                log.warning(kv("ingest_retry", topic=msg.topic, error=exc, retry_in_s=backoff))
            except Exception:  # a bug must not kill the worker; the message stays unacked
                self.metrics.inc("errors")
                log.exception(kv("ingest_failed", topic=msg.topic, bytes=len(msg.payload)))
            if self._stop.is_set():
                return False
            self._sleep(backoff)
            backoff = self._next_backoff(backoff)
