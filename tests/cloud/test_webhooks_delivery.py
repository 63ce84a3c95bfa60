"""Webhook delivery to a real local HTTP server that checks the HMAC signature.

The receiver goes down for a while (stopped; a new one later on the same port): every
alert still arrives exactly once afterwards, the delivery log shows the failed attempts,
and a replay sends the same delivery ids again. The worker's clock is a test clock, so
backoff is exercised without sleeping.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.alerts import upsert_alert
from cloud.alerts.delivery import DeliveryWorker, RetryPolicy, sign, verify
from cloud.api.app import create_app
from cloud.settings import Settings
from tests.conftest import free_port

FLEET = "hooks"
T_EVENT = 1_714_564_800_000


class Receiver:
    """A real HTTP server on a fixed port that verifies signatures; can stop and restart."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.rejected = 0
        self.server: http.server.ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(
                    outer.secret,
                    self.headers.get("X-Fleetwire-Timestamp", ""),
                    body,
                    self.headers.get("X-Fleetwire-Signature", ""),
                )
                with outer.lock:
                    if ok:
                        outer.received.append((dict(self.headers), json.loads(body)))
                    else:
                        outer.rejected += 1
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port(), "")
    yield r
    r.stop()


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def open_alert(engine: Engine, n: int, severity: str = "high") -> int:
    with engine.begin() as conn:
        return upsert_alert(
            conn,
            fleet_id=FLEET,
            device_id="truck-1",
            kind="threshold",
            key=f"truck-1:test:{n}",
            severity=severity,
            title=f"problem {n}",
            details={"n": n},
            event_time_ms=T_EVENT + n,
            now_ms=wall_ms(),
        )


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k" * 16, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k" * 16, "1700000000", b"{}") == "sha256=" + expected
    assert verify("k" * 16, "1700000000", b"{}", "sha256=" + expected)
    assert not verify("k" * 16, "1700000001", b"{}", "sha256=" + expected)


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(base_s=2, cap_s=60, jitter=False)
    assert [policy.delay_ms(a) for a in (1, 2, 3, 4, 10)] == [2000, 4000, 8000, 16000, 60000]
    jittered = RetryPolicy(base_s=2, cap_s=60)
    assert jittered.delay_ms(3, rand=lambda: 0.0) == 4000
    assert jittered.delay_ms(3, rand=lambda: 0.999) == pytest.approx(11992, abs=1)


def test_receiver_down_for_a_while_gets_every_alert_exactly_once(
    client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    resp = client.post(
        "/v1/webhooks",
        json={"url": f"http://127.0.0.1:{receiver.port}/fleetwire", "description": "workshop"},
    )
    assert resp.status_code == 201, resp.text
    hook = resp.json()
    receiver.secret = hook["secret"]
    assert len(hook["secret"]) >= 32
    assert "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json() or (
        client.get(f"/v1/webhooks/{hook['id']}").json()["secret"] is None
    )
    clock = Clock(wall_ms())
    worker = DeliveryWorker(
        engine, policy=RetryPolicy(base_s=5, cap_s=300), clock_ms=clock, timeout_s=5
    )

    receiver.start()
    ids = [open_alert(engine, n) for n in (1, 2)]
    clock.ms = wall_ms()
    assert worker.run_once() == 2
    receiver.stop()  # down for a while
    ids += [open_alert(engine, n) for n in (3, 4, 5)]
    open_alert(engine, 3)  # the same problem again: no second alert
    for _ in range(3):  # attempts while it is down fail and back off
        clock.ms += 400_000
        assert worker.run_once() == 3
    clock.ms += 1
    assert worker.run_once() == 0  # nothing due before the backoff has passed
    receiver.start()  # a new server on the same port
    clock.ms += 400_000
    assert worker.run_once() == 3
    clock.ms += 10_000_000
    assert worker.run_once() == 0  # delivered ones are never sent again

    alert_ids = [body["alert"]["id"] for _, body in receiver.received]
    assert Counter(alert_ids) == Counter({i: 1 for i in ids})
    assert receiver.rejected == 0
    headers = [h for h, _ in receiver.received]
    assert len({h["X-Fleetwire-Delivery"] for h in headers}) == 5
    assert all(h["X-Fleetwire-Signature"].startswith("sha256=") for h in headers)
    assert {body["type"] for _, body in receiver.received} == {"alert.opened"}

    log = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()
    assert log["count"] == 5
    assert {d["status"] for d in log["data"]} == {"delivered"}
    retried = [d for d in log["data"] if d["attempts"] == 4]
    assert len(retried) == 3
    for d in retried:
        assert [a["status_code"] for a in d["log"]] == [None, None, None, 200]
        assert all(a["error"] for a in d["log"][:3])

    # Replay since the beginning: the same delivery ids again, marked as a replay.
    first_ids = {h["X-Fleetwire-Delivery"] for h in headers}
    resp = client.post(f"/v1/webhooks/{hook['id']}/replay", params={"since": "0"})
    assert resp.json()["queued"] == 5
    clock.ms = max(clock.ms, wall_ms())
    assert worker.run_once() == 5
    replayed = receiver.received[5:]
    assert {h["X-Fleetwire-Delivery"] for h, _ in replayed} == first_ids
    assert {h["X-Fleetwire-Replay"] for h, _ in replayed} == {"1"}


def test_wrong_secret_is_retried_until_dead(
    client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    receiver.secret = "the-receiver-knows-another-secret"
    receiver.start()
    hook = client.post(
        "/v1/webhooks",
        json={
            "url": f"http://127.0.0.1:{receiver.port}/",
            "secret": "a-secret-of-sixteen+",
            "min_severity": "medium",
        },
    ).json()
    open_alert(engine, 1, severity="low")  # below the webhook's minimum severity
    open_alert(engine, 2, severity="critical")
    clock = Clock(wall_ms() + 1)
    worker = DeliveryWorker(engine, policy=RetryPolicy(max_attempts=3), clock_ms=clock)
    for _ in range(5):
        worker.run_once()
        clock.ms += 10_000_000
    assert receiver.rejected == 3 and receiver.received == []
    log = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("dead", 3, 401)]


def test_webhook_crud_and_validation(client: TestClient) -> None:
    bad = client.post("/v1/webhooks", json={"url": "not a url"})
    assert bad.status_code == 422
    bad = client.post("/v1/webhooks", json={"url": "http://x.example/", "events": ["nope"]})
    assert bad.status_code == 422
    hook = client.post(
        "/v1/webhooks", json={"url": "http://x.example/", "events": ["alert.resolved"]}
    ).json()
    patched = client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False}).json()
    assert patched["enabled"] is False and patched["events"] == ["alert.resolved"]
    assert [h["id"] for h in client.get("/v1/webhooks").json()] == [hook["id"]]
    assert client.get("/v1/webhooks", headers={"X-Fleet-Id": "other"}).json() == []
    assert (
        client.get(f"/v1/webhooks/{hook['id']}", headers={"X-Fleet-Id": "other"}).status_code == 404
    )
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert client.post("/v1/webhooks/999/replay", params={"since": "0"}).status_code == 404
    assert client.get("/v1/webhooks/999/deliveries").status_code == 404
