"""Publish alert lifecycle events to MQTT ``fw/v1/{fleet}/alerts`` (QoS 1, JSON).

Reads ``alert_events`` not yet published (durable: a broker outage only delays them) and
marks each after the broker acknowledged it. The delivery worker calls
``publish_pending`` on every poll. Payload: ``{"event_id", "type", "time_ms", "alert"}``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.db.tables_alerts import alert_events
from cloud.logs import kv
from wire.topics import PREFIX, check_id

log = logging.getLogger(__name__)


def alerts_topic(fleet_id: str) -> str:
    """``fw/v1/{fleet}/alerts``."""
    return f"{PREFIX}/{check_id('fleet', fleet_id)}/alerts"


def message(row: Any) -> bytes:
    """The JSON payload of one alert event row."""
    return json.dumps(
        {"event_id": row.id, "type": row.type, "time_ms": row.time_ms, "alert": row.payload},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


class AlertsMqttPublisher:
    """A paho client publishing unpublished alert events; reconnects by itself."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        wait_s: float = 10.0,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.wait_s = wait_s
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(host, port, 30)
        self.client.loop_start()

    @classmethod
    def from_url(cls, url: str, client_id: str) -> AlertsMqttPublisher:
        from cloud.ingest.consumer import BrokerAddress

        addr = BrokerAddress.from_url(url)
        return cls(
            addr.host,
            addr.port,
            client_id,
            tls=addr.tls,
            username=addr.username,
            password=addr.password,
        )

    def publish_pending(self, engine: Engine, limit: int = 500) -> int:
        """Publish up to ``limit`` waiting events in order; returns how many were acknowledged."""
        if not self.client.is_connected():
            return 0
        e = alert_events
        with engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(e)
                    .where(e.c.mqtt_published_ms.is_(None))
                    .order_by(e.c.id)
                    .limit(limit)
                )
            )
        done = 0
        for row in rows:
            info = self.client.publish(alerts_topic(row.fleet_id), message(row), qos=1)
            info.wait_for_publish(timeout=self.wait_s)
            if not info.is_published():
                log.warning(kv("alerts_mqtt_not_acknowledged", alert_event=row.id))
                break
            with engine.begin() as conn:
                conn.execute(
                    e.update()
                    .where(e.c.id == row.id)
                    .values(mqtt_published_ms=time.time_ns() // 1_000_000)
                )
            done += 1
        return done

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
