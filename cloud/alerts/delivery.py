"""Webhook delivery from a durable outbox: signing, retries with backoff, log and replay.

Each alert lifecycle event becomes one ``webhook_deliveries`` row per matching webhook,
written in the transaction that changed the alert, so nothing is lost when the process
dies. ``DeliveryWorker`` claims due rows with a lease, POSTs the stored body and records
every attempt in ``webhook_attempts``; failures are retried with exponential backoff and
jitter until ``max_attempts`` (then ``dead``). Receivers verify

    X-Fleetwire-Signature: sha256=HEX(HMAC-SHA256(secret, f"{timestamp}.{body}"))

with ``X-Fleetwire-Timestamp`` (UNIX seconds) and deduplicate by ``X-Fleetwire-Delivery``,
which stays the same for retries and replays of one alert event to one webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.db.tables_alerts import alert_events, webhook_attempts, webhook_deliveries
from cloud.logs import kv
from cloud.store import alerts as alert_store

log = logging.getLogger(__name__)

DEFAULT_EVENTS = ["alert.opened", "alert.reopened", "alert.escalated"]
_NAMESPACE = uuid.UUID("6f1c3f0e-8a51-4c1e-9a57-4f6b6a1f3c2d")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is the one ``sign`` gives (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def delivery_id(fleet_id: str, webhook_id: int, alert_event_id: int) -> str:
    """Stable id of one alert event for one webhook (the same for retries and replays)."""
    return str(uuid.uuid5(_NAMESPACE, f"{fleet_id}/{webhook_id}/{alert_event_id}"))


def _body(did: str, event_id: int, type_: str, created_ms: int, alert: dict[str, Any]) -> str:
    return json.dumps(
        {
            "delivery_id": did,
            "event_id": event_id,
            "type": type_,
            "time_ms": created_ms,
            "alert": alert,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def _wants(hook: Any, type_: str, severity: str) -> bool:
    from cloud.alerts.model import rank

    events = hook.events if isinstance(hook.events, list) else DEFAULT_EVENTS
    return type_ in events and rank(severity) >= rank(hook.min_severity)


def enqueue(
    conn: sa.Connection,
    fleet_id: str,
    alert_event_id: int,
    type_: str,
    alert: dict[str, Any],
    now_ms: int,
    *,
    webhook_ids: set[int] | None = None,
    generation: int = 0,
) -> int:
    """Add deliveries of one alert event for the fleet's matching webhooks; returns how many."""
    n = 0
    for hook in alert_store.enabled_webhooks(conn, fleet_id):
        if webhook_ids is not None and hook.id not in webhook_ids:
            continue
        if not _wants(hook, type_, alert["severity"]):
            continue
        did = delivery_id(fleet_id, int(hook.id), alert_event_id)
        conn.execute(
            sa.insert(webhook_deliveries).values(
                fleet_id=fleet_id,
                webhook_id=hook.id,
                alert_event_id=alert_event_id,
                generation=generation,
                delivery_id=did,
                body=_body(did, alert_event_id, type_, now_ms, alert),
                status="pending",
                attempts=0,
                next_attempt_ms=now_ms,
                created_ms=now_ms,
            )
        )
        n += 1
    return n


def replay(conn: sa.Connection, fleet_id: str, webhook_id: int, since_ms: int, now_ms: int) -> int:
    """Queue again every alert event since ``since_ms`` (wall clock) for one webhook.

    Replays carry the original delivery ids, so a receiver that already has one can drop it.
    Returns the number of deliveries queued.
    """
    e, d = alert_events, webhook_deliveries
    hook = alert_store.get_webhook(conn, fleet_id, webhook_id)
    if hook is None:
        return 0
    rows = conn.execute(
        sa.select(e).where(e.c.fleet_id == fleet_id, e.c.time_ms >= since_ms).order_by(e.c.id)
    )
    n = 0
    for ev in rows:
        if not _wants(hook, ev.type, ev.payload["severity"]):
            continue
        gen = conn.execute(
            sa.select(sa.func.max(d.c.generation)).where(
                d.c.webhook_id == webhook_id, d.c.alert_event_id == ev.id
            )
        ).scalar()
        did = delivery_id(fleet_id, webhook_id, int(ev.id))
        conn.execute(
            sa.insert(d).values(
                fleet_id=fleet_id,
                webhook_id=webhook_id,
                alert_event_id=ev.id,
                generation=0 if gen is None else gen + 1,
                delivery_id=did,
                body=_body(did, int(ev.id), ev.type, ev.time_ms, ev.payload),
                status="pending",
                attempts=0,
                next_attempt_ms=now_ms,
                created_ms=now_ms,
            )
        )
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base_s * 2**(attempt-1)``, capped, times a jitter in [0.5, 1.5)."""

    base_s: float = 2.0
    cap_s: float = 3600.0
    max_attempts: int = 15
    jitter: bool = True

    def delay_ms(self, attempt: int, rand: Callable[[], float] = random.random) -> int:
        delay = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        if self.jitter:
            delay *= 0.5 + rand()
        return int(delay * 1000)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Outcome:
    """POST ``body``; 2xx is success, anything else (or no answer) a failure to retry."""
    start = time.monotonic()
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            code = resp.status
            resp.read(1024)
    except urllib.error.HTTPError as exc:
        code = exc.code
        err = f"HTTP {exc.code}"
        return Outcome(False, code, err, int((time.monotonic() - start) * 1000))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(
            False,
            None,
            f"{type(exc).__name__}: {reason}"[:500],
            int((time.monotonic() - start) * 1000),
        )
    duration = int((time.monotonic() - start) * 1000)
    if 200 <= code < 300:
        return Outcome(True, code, None, duration)
    return Outcome(False, code, f"HTTP {code}", duration)


class DeliveryWorker:
    """Sends due webhook deliveries; ``run_once`` for tests and tools, ``start``/``stop`` a thread.

    Several workers (processes) may run: a claim sets a lease, and a row whose lease has
    expired (its worker died mid-send) is claimed again, so delivery is at least once and
    receivers deduplicate by ``X-Fleetwire-Delivery``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        poll_s: float = 1.0,
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        lease_s: float = 60.0,
        batch: int = 50,
        clock_ms: Callable[[], int] = _now_ms,
        mqtt_publisher: Any = None,
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self.lease_ms = int(lease_s * 1000)
        self.batch = batch
        self.clock_ms = clock_ms
        self.mqtt_publisher = mqtt_publisher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _claim(self, now_ms: int) -> list[sa.Row[Any]]:
        d = webhook_deliveries
        with self.engine.begin() as conn:
            q = (
                sa.select(d.c.id)
                .where(
                    d.c.status == "pending",
                    d.c.next_attempt_ms <= now_ms,
                    sa.or_(d.c.lease_until_ms.is_(None), d.c.lease_until_ms < now_ms),
                )
                .order_by(d.c.next_attempt_ms, d.c.id)
                .limit(self.batch)
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = [r.id for r in conn.execute(q)]
            if not ids:
                return []
            conn.execute(
                d.update().where(d.c.id.in_(ids)).values(lease_until_ms=now_ms + self.lease_ms)
            )
            from cloud.db.tables_alerts import webhooks

            w = webhooks
            return list(
                conn.execute(
                    sa.select(d, w.c.url, w.c.secret)
                    .join(w, w.c.id == d.c.webhook_id)
                    .where(d.c.id.in_(ids))
                    .order_by(d.c.id)
                )
            )

    def _send(self, row: sa.Row[Any]) -> None:
        body = row.body.encode()
        ts = str(self.clock_ms() // 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "fleetwire-webhooks/1",
            "X-Fleetwire-Timestamp": ts,
            "X-Fleetwire-Signature": sign(row.secret, ts, body),
            "X-Fleetwire-Delivery": row.delivery_id,
            "X-Fleetwire-Event": json.loads(row.body).get("type", ""),
        }
        if row.generation:
            headers["X-Fleetwire-Replay"] = str(row.generation)
        outcome = post(row.url, body, headers, self.timeout_s)
        now = self.clock_ms()
        attempt = row.attempts + 1
        d = webhook_deliveries
        values: dict[str, Any] = {
            "attempts": attempt,
            "lease_until_ms": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values.update(status="delivered", delivered_ms=now)
        elif attempt >= self.policy.max_attempts:
            values.update(status="dead")
        else:
            values.update(next_attempt_ms=now + self.policy.delay_ms(attempt))
        with self.engine.begin() as conn:
            conn.execute(d.update().where(d.c.id == row.id).values(**values))
            conn.execute(
                sa.insert(webhook_attempts).values(
                    fleet_id=row.fleet_id,
                    delivery_pk=row.id,
                    attempt=attempt,
                    time_ms=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
        log.log(
            logging.DEBUG if outcome.ok else logging.WARNING,
            kv(
                "webhook_delivered" if outcome.ok else "webhook_failed",
                fleet=row.fleet_id,
                webhook=row.webhook_id,
                delivery=row.delivery_id,
                attempt=attempt,
                status=outcome.status_code,
                error=outcome.error or "",
            ),
        )

    def run_once(self) -> int:
        """Send every delivery that is due now (and publish pending MQTT alerts); returns sends."""
        sent = 0
        if self.mqtt_publisher is not None:
            try:
                self.mqtt_publisher.publish_pending(self.engine)
            except Exception:  # the broker being away must not stop webhooks
                log.exception(kv("alerts_mqtt_publish_failed"))
        while True:
            rows = self._claim(self.clock_ms())
            if not rows:
                return sent
            for row in rows:
                self._send(row)
                sent += 1
            if self._stop.is_set():
                return sent

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except sa.exc.SQLAlchemyError as exc:
                log.warning(kv("webhook_worker_db_error", error=str(exc).splitlines()[0]))
            except Exception:
                log.exception(kv("webhook_worker_error"))
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
