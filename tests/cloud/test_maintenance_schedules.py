"""Preventive maintenance: a simulated vehicle accumulating kilometres and engine hours crosses
a schedule's due-soon and overdue points at the right odometer; a service resets it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.alerts import schedules as sched
from cloud.api.app import create_app
from cloud.ingest.handler import IngestHandler
from cloud.settings import Settings
from tests.cloud.factories import T0, payload, up
from wire import Batch, Record

FLEET = "pm"
STEP_MS = 300_000  # a sample every 5 min
ODO0, KM_STEP = 8_001.3, 7.9  # km, km per sample
H0, H_STEP = 480.0, 0.09  # engine hours, h per sample


def vehicle(n: int, boot: int = 1) -> list[Record]:
    """Engine samples with a rising odometer (km) and engine hours (h)."""
    return [
        Record(
            "engine",
            i + 1,
            T0 + i * STEP_MS,
            {
                "Vehicle.Speed": 80.0,
                "Vehicle.Powertrain.CombustionEngine.Speed": 1400.0,
                "Vehicle.TraveledDistance": round(ODO0 + KM_STEP * i, 3),
                "Vehicle.Powertrain.CombustionEngine.EngineHours": round(H0 + H_STEP * i, 2),
            },
        )
        for i in range(n)
    ]


def send(engine: Engine, recs: list[Record], device: str = "truck-1", size: int = 40) -> None:
    handler = IngestHandler(engine)
    for i in range(0, len(recs), size):
        handler.handle(up(FLEET, device), payload(Batch(device, 1, tuple(recs[i : i + size]))))


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        yield c


def maintenance_alerts(client: TestClient) -> list[dict]:
    return client.get("/v1/alerts", params={"kind": "maintenance"}).json()["data"]


def first_at_or_past(recs: list[Record], signal: str, value: float) -> Record:
    return next(r for r in recs if r.data[signal] >= value)


def test_vehicle_crosses_due_soon_then_overdue_at_the_right_odometer(
    client: TestClient, engine: Engine
) -> None:
    resp = client.post(
        "/v1/maintenance/schedules",
        json={"name": "Oil change", "every_km": 10_000, "due_soon_km": 1_000},
    )
    assert resp.status_code == 201, resp.text
    recs = vehicle(320)  # 8 001 km -> 10 521 km
    soon = first_at_or_past(recs, "Vehicle.TraveledDistance", 9_000)
    over = first_at_or_past(recs, "Vehicle.TraveledDistance", 10_000)
    # before the due-soon point: nothing
    send(engine, [r for r in recs if r.time_ms < soon.time_ms])
    assert maintenance_alerts(client) == []
    send(engine, [r for r in recs if soon.time_ms <= r.time_ms < over.time_ms])
    (alert,) = maintenance_alerts(client)
    assert alert["severity"] == "low" and alert["title"] == "Oil change due soon"
    assert alert["details"]["due_soon_at"] == soon.data["Vehicle.TraveledDistance"]
    assert alert["details"]["due_soon_event_ms"] == soon.time_ms
    assert alert["started_event_ms"] == soon.time_ms
    send(engine, [r for r in recs if r.time_ms >= over.time_ms])
    (alert,) = maintenance_alerts(client)
    assert alert["severity"] == "medium" and alert["title"] == "Oil change overdue"
    assert alert["details"]["overdue_at"] == over.data["Vehicle.TraveledDistance"]
    assert alert["details"]["overdue_event_ms"] == over.time_ms
    history = [h["type"] for h in client.get(f"/v1/alerts/{alert['id']}").json()["history"]]
    assert history == ["alert.opened", "alert.escalated"]

    status = client.get("/v1/vehicles/truck-1/maintenance").json()["schedules"]
    assert [(s["status"], s["due_km"]) for s in status] == [("overdue", 10_000.0)]

    # A completed service resets the schedule and resolves the alert.
    last = recs[-1]
    resp = client.post(
        "/v1/vehicles/truck-1/services",
        json={
            "schedule_id": status[0]["schedule_id"],
            "done_at": str(last.time_ms),
            "by": "workshop@fleet",
        },
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["odometer_km"] == last.data["Vehicle.TraveledDistance"]
    done = client.get(f"/v1/alerts/{alert['id']}").json()
    assert done["status"] == "resolved" and done["resolved_by"] == "workshop@fleet"
    item = client.get("/v1/vehicles/truck-1/maintenance").json()["schedules"][0]
    assert item["status"] == "ok"
    assert item["due_km"] == pytest.approx(last.data["Vehicle.TraveledDistance"] + 10_000)
    # 7.9 km every 5 min = 2275.2 km/day; the forecast is the remaining km at that rate
    assert item["km_per_day"] == pytest.approx(KM_STEP * 288, rel=1e-3)
    expected = last.time_ms + 10_000 / item["km_per_day"] * sched.DAY_MS
    assert item["forecast_due_ms"] == pytest.approx(expected, abs=1000)
    assert item["last_service"]["by"] == "workshop@fleet"


def test_engine_hours_whichever_comes_first_and_late_data(
    client: TestClient, engine: Engine
) -> None:
    client.post(
        "/v1/maintenance/schedules",
        json={"name": "Service A", "every_km": 50_000, "every_h": 500, "due_soon_h": 10},
    )
    recs = vehicle(300)  # 480 h -> 506.9 h; the odometer stays far from 50 000 km
    # late and out of order: newest batches first
    chunks = [recs[i : i + 40] for i in range(0, len(recs), 40)]
    for chunk in reversed(chunks):
        send(engine, chunk)
    (alert,) = maintenance_alerts(client)
    soon = first_at_or_past(recs, "Vehicle.Powertrain.CombustionEngine.EngineHours", 490)
    over = first_at_or_past(recs, "Vehicle.Powertrain.CombustionEngine.EngineHours", 500)
    assert alert["details"]["due_soon_by"] == "engine_h"
    assert alert["details"]["due_soon_event_ms"] == soon.time_ms
    assert alert["details"]["overdue_event_ms"] == over.time_ms
    assert alert["severity"] == "medium" and alert["late"] is True
    assert alert["occurrences"] == 1


def test_group_schedule_applies_only_to_its_vehicles(client: TestClient, engine: Engine) -> None:
    client.post(
        "/v1/maintenance/schedules",
        json={"name": "Tyres", "device_ids": ["van-9"], "every_km": 300, "due_soon_km": 50},
    )
    send(engine, vehicle(40), device="truck-1")
    send(engine, vehicle(40), device="van-9")
    got = maintenance_alerts(client)
    assert [a["device_id"] for a in got] == ["van-9"]
    assert client.get("/v1/vehicles/truck-1/maintenance").json()["schedules"] == []


def test_schedule_crud_and_validation(client: TestClient, engine: Engine) -> None:
    assert client.post("/v1/maintenance/schedules", json={"name": "x"}).status_code == 422
    assert (
        client.post("/v1/maintenance/schedules", json={"name": "x", "every_km": -1}).status_code
        == 422
    )
    s = client.post(
        "/v1/maintenance/schedules", json={"name": "Inspection", "every_days": 365}
    ).json()
    assert (
        client.patch(f"/v1/maintenance/schedules/{s['id']}", json={"due_soon_days": 30}).json()[
            "due_soon_days"
        ]
        == 30
    )
    assert [x["id"] for x in client.get("/v1/maintenance/schedules").json()] == [s["id"]]
    other = {"X-Fleet-Id": "other"}
    assert client.get(f"/v1/maintenance/schedules/{s['id']}", headers=other).status_code == 404
    send(engine, vehicle(2))
    missing = client.post("/v1/vehicles/truck-1/services", json={"schedule_id": 999, "by": "me"})
    assert missing.status_code == 404
    assert (
        client.post(
            "/v1/vehicles/nope/services", json={"schedule_id": s["id"], "by": "me"}
        ).status_code
        == 404
    )
    assert client.delete(f"/v1/maintenance/schedules/{s['id']}").status_code == 204
    assert client.get(f"/v1/maintenance/schedules/{s['id']}").status_code == 404


def test_status_and_forecast_pure() -> None:
    s = sched.Schedule(1, "x", every_km=10_000, every_h=None, every_days=30, due_soon_km=500)
    due = sched.due_points(s, sched.Baseline(0, 20_000.0, None))
    assert (due.due_km, due.soon_km, due.due_ms) == (30_000.0, 29_500.0, 30 * sched.DAY_MS)
    assert sched.status(due, 29_499.9, None, 0) == ("ok", [])
    assert sched.status(due, 29_500.0, None, 0) == ("due_soon", ["odometer due_soon"])
    assert sched.status(due, 25_000.0, None, 31 * sched.DAY_MS)[0] == "overdue"
    # 1 000 km/day: 10 000 km left -> day 10, before the 30-day calendar point
    assert sched.forecast_due_ms(due, 20_000.0, None, 0, 1_000.0, None) == 10 * sched.DAY_MS
    assert sched.forecast_due_ms(due, 20_000.0, None, 0, 100.0, None) == 30 * sched.DAY_MS
