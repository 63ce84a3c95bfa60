"""The alert model: idempotent upsert, late marking, escalation, reopen, acknowledge/resolve
with who and when, the API list filters and the severity rules."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.alerts import AlertError, acknowledge, resolve_alert, upsert_alert
from cloud.alerts.obd_codes import P0_CODES, describe, describe_j1939
from cloud.alerts.severity import fault_severity, override
from cloud.api.app import create_app
from cloud.db.tables_alerts import alert_events
from cloud.settings import Settings

FLEET = "model"
T = 1_714_564_800_000


def now() -> int:
    return time.time_ns() // 1_000_000


def up(conn: sa.Connection, key: str, severity: str = "medium", **kw: object) -> int:
    args: dict = {
        "fleet_id": FLEET,
        "device_id": "truck-1",
        "kind": "route_deviation",
        "key": key,
        "severity": severity,
        "title": f"t {key}",
        "details": {"k": key},
        "event_time_ms": now(),
        "now_ms": now(),
    }
    args.update(kw)
    return upsert_alert(conn, **args)


def event_types(conn: sa.Connection, alert_id: int) -> list[str]:
    e = alert_events
    return list(
        conn.execute(sa.select(e.c.type).where(e.c.alert_id == alert_id).order_by(e.c.id)).scalars()
    )


def test_upsert_is_idempotent_escalates_and_marks_late(engine: Engine) -> None:
    with engine.begin() as conn:
        a = up(conn, "trip1:seg5")
        assert up(conn, "trip1:seg5", details={"k": "changed"}) == a
        assert up(conn, "trip1:seg5", severity="high") == a  # escalation
        assert up(conn, "trip1:seg5", severity="low") == a  # lower: no new notification
        assert event_types(conn, a) == ["alert.opened", "alert.escalated"]
        late = up(conn, "trip1:seg6", event_time_ms=now() - 11 * 60_000)
        fresh = up(conn, "trip1:seg7", event_time_ms=now() - 9 * 60_000)
        rows = {
            r.id: r for r in conn.execute(sa.text("SELECT id, late, details, severity FROM alerts"))
        }
    assert bool(rows[late].late) and not bool(rows[fresh].late)
    assert not bool(rows[a].late)
    assert rows[a].severity == "low"


def test_resolve_keeps_history_and_reopens_only_for_newer_events(engine: Engine) -> None:
    with engine.begin() as conn:
        a = up(conn, "k", event_time_ms=T)
        assert resolve_alert(
            conn,
            fleet_id=FLEET,
            kind="route_deviation",
            key="k",
            event_time_ms=T + 10,
            now_ms=now(),
        )
        assert not resolve_alert(
            conn,
            fleet_id=FLEET,
            kind="route_deviation",
            key="k",
            event_time_ms=T + 11,
            now_ms=now(),
        )
        assert not resolve_alert(
            conn, fleet_id=FLEET, kind="route_deviation", key="nope", event_time_ms=T, now_ms=now()
        )
        assert up(conn, "k", event_time_ms=T + 5) == a  # recomputing history: stays resolved
        assert event_types(conn, a) == ["alert.opened", "alert.resolved"]
        assert up(conn, "k", event_time_ms=T + 20) == a  # the problem is back
        assert event_types(conn, a)[-1] == "alert.reopened"
        row = conn.execute(sa.text(f"SELECT status, occurrences FROM alerts WHERE id={a}")).one()
    assert (row.status, row.occurrences) == ("open", 2)


def test_bad_arguments_are_refused(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(AlertError):
        up(conn, "x", severity="urgent")
    with engine.begin() as conn, pytest.raises(AlertError):
        up(conn, "")
    with engine.begin() as conn:
        a = up(conn, "y")
        resolve_alert(
            conn, fleet_id=FLEET, kind="route_deviation", key="y", event_time_ms=now(), now_ms=now()
        )
        with pytest.raises(AlertError):
            acknowledge(conn, FLEET, a, "me", now())


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        yield c


def test_api_lists_filters_acknowledges_and_resolves(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        a = up(conn, "a", severity="critical", event_time_ms=T)
        b = up(conn, "b", severity="low", event_time_ms=T + 1000, device_id="van-2", kind="idling")
        up(conn, "c", severity="high", event_time_ms=T + 2000, fleet_id="other")
    ids = lambda **p: [x["id"] for x in client.get("/v1/alerts", params=p).json()["data"]]  # noqa: E731
    assert ids() == [b, a]
    assert ids(severity="critical") == [a]
    assert ids(severity="critical,low") == [b, a]
    assert ids(kind="idling") == [b]
    assert ids(vehicle="truck-1") == [a]
    assert ids(**{"from": str(T + 500)}) == [b]
    assert ids(to="2024-05-01T12:00:00.500Z") == [a]
    page = client.get("/v1/alerts", params={"limit": 1}).json()
    assert [x["id"] for x in page["data"]] == [b]
    rest = client.get("/v1/alerts", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [x["id"] for x in rest["data"]] == [a]
    assert client.get("/v1/alerts", params={"status": "sleeping"}).status_code == 422

    acked = client.post(f"/v1/alerts/{a}/acknowledge", json={"by": "ana"}).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "ana"
    assert acked["acknowledged_ms"] is not None
    assert ids(status="acknowledged") == [a]
    done = client.post(f"/v1/alerts/{a}/resolve", json={"by": "bo"}).json()
    assert (done["status"], done["resolved_by"]) == ("resolved", "bo")
    assert [(h["type"], h["by"]) for h in done["history"]] == [
        ("alert.opened", "system"),
        ("alert.acknowledged", "ana"),
        ("alert.resolved", "bo"),
    ]
    assert client.post(f"/v1/alerts/{a}/acknowledge", json={"by": "ana"}).status_code == 409
    assert client.post(f"/v1/alerts/{a}/resolve", json={"by": ""}).status_code == 422
    assert client.get("/v1/alerts/99999").status_code == 404
    assert client.get(f"/v1/alerts/{a}", headers={"X-Fleet-Id": "other"}).status_code == 404


def test_sse_stream_sends_events_after_last_event_id(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        a = up(conn, "s1", severity="high")
        up(conn, "s2")
    with client.stream("GET", "/v1/alerts/stream", params={"after": 0, "max_events": 2}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        text = "".join(resp.iter_text())
    assert text.count("event: alert.opened") == 2
    assert f'"id":{a}' in text
    with client.stream(
        "GET", "/v1/alerts/stream", headers={"Last-Event-ID": "1"}, params={"max_events": 1}
    ) as resp:
        rest = "".join(resp.iter_text())
    assert "id: 2\n" in rest and "id: 1\n" not in rest
    assert client.get("/v1/alerts/stream", headers={"Last-Event-ID": "x"}).status_code == 400


def test_alert_rules_api_validates(client: TestClient) -> None:
    ok = client.post(
        "/v1/alert-rules",
        json={
            "kind": "threshold",
            "name": "hot",
            "config": {
                "signal": "Vehicle.Powertrain.CombustionEngine.ECT",
                "op": "above",
                "value": 100,
                "clear": 95,
            },
        },
    )
    assert ok.status_code == 201, ok.text
    bad = client.post(
        "/v1/alert-rules",
        json={
            "kind": "threshold",
            "name": "hot",
            "config": {"signal": "x", "op": "above", "value": 100, "clear": 105},
        },
    )
    assert bad.status_code == 422 and "hysteresis" in bad.text
    assert (
        client.post(
            "/v1/alert-rules",
            json={"kind": "severity_override", "name": "P0420", "config": {"severity": "x"}},
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/alert-rules", json={"kind": "setting", "name": "nope", "config": {"value": 1}}
        ).status_code
        == 422
    )
    s = client.post(
        "/v1/alert-rules",
        json={"kind": "setting", "name": "idle_alert_s", "config": {"value": 600}},
    )
    assert s.status_code == 201
    rid = ok.json()["id"]
    assert (
        client.patch(f"/v1/alert-rules/{rid}", json={"enabled": False}).json()["enabled"] is False
    )
    assert len(client.get("/v1/alert-rules").json()) == 2
    assert client.delete(f"/v1/alert-rules/{rid}").status_code == 204
    assert client.get(f"/v1/alert-rules/{rid}").status_code == 404


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (
            {
                "spn": 980,
                "lamps": {"mil": "on", "red_stop": "off", "amber": "off", "protect": "na"},
            },
            "medium",
        ),
        ({"spn": 980, "lamps": {"mil": "off", "red_stop": "on"}}, "critical"),
        ({"spn": 980, "lamps": {"mil": "flash_fast"}}, "critical"),
        ({"spn": 980, "lamps": {"protect": "flash_slow"}}, "high"),
        ({"spn": 100, "lamps": {"mil": "off", "amber": "off"}}, "high"),
        ({"spn": 117, "lamps": {}}, "high"),
        ({"spn": 980, "lamps": {"amber": "on"}}, "medium"),
        ({"spn": 980, "lamps": {"mil": "off", "amber": "off", "red_stop": "off"}}, "low"),
        ({"code": "P0301", "kinds": frozenset({"pending"})}, "low"),
        ({"code": "P0301", "kinds": frozenset({"stored"}), "mil_on": True}, "medium"),
        ({"code": "P0301", "kinds": frozenset({"stored"}), "mil_on": False}, "low"),
        ({"code": "P0420", "kinds": frozenset({"permanent"})}, "medium"),
        ({"code": "P0524", "kinds": frozenset({"pending"})}, "high"),
        ({"code": "C0035", "kinds": frozenset({"stored"})}, "high"),
        ({"code": "P0300", "kinds": frozenset({"stored"}), "lamps": {"mil": "flash"}}, "critical"),
    ],
)
def test_severity_follows_what_the_vehicle_says(kw: dict, expected: str) -> None:
    assert fault_severity(**kw)[0] == expected


def test_fleet_override_per_code() -> None:
    overrides = {"SPN980/FMI9": "high", "P0420": "low"}
    assert override(overrides, "medium", "MIL on", ["SPN980/FMI9", "SPN980"]) == (
        "high",
        "fleet override for SPN980/FMI9",
    )
    assert override(overrides, "medium", "MIL on", ["SPN3216/FMI20", "SPN3216"])[0] == "medium"


def test_readable_descriptions() -> None:
    assert len(P0_CODES) >= 300
    assert describe("P0301") == "Cylinder 1 misfire detected"
    assert describe("p0420") == "Catalyst system efficiency below threshold (bank 1)"
    assert describe("P0171") == "System too lean (bank 1)"
    assert describe("P0141") == "O2 sensor heater circuit malfunction (bank 1 sensor 2)"
    assert "manufacturer-specific" in describe("P1234")
    assert describe("P0999").endswith("transmission")
    assert describe("X12") == "unrecognised code 'X12'"
    assert describe_j1939(100, 1).startswith("Engine oil pressure: data valid but below")
    assert describe_j1939(980, 9) == "SPN 980: abnormal update rate (SPN 980 / FMI 9)"
