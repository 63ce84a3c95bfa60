"""The HTTP API over a populated database: shapes, pagination, fleet scoping, 404/422/400."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.api.app import create_app
from cloud.cli import main as cli_main
from cloud.ingest.handler import IngestHandler
from cloud.settings import Settings
from tests.cloud.factories import T0, batches, drive, payload, up
from wire import Batch, topic_for

FLEET = "acme"


@pytest.fixture
def populated(engine: Engine) -> list:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=60)
    # Leave a hole in boot 1 (seq 10..12) and add a short second boot.
    for b in batches([r for r in recs if not 10 <= r.seq <= 12], "truck-1", size=40):
        handler.handle(up(FLEET, "truck-1"), payload(b))
    handler.handle(up(FLEET, "truck-1"), payload(Batch("truck-1", 2, tuple(recs[:3]))))
    handler.handle(topic_for(FLEET, "truck-1", "status"), b'{"state": "online"}')
    handler.handle(up(FLEET, "van-2"), payload(Batch("van-2", 1, tuple(recs[:5]))))
    handler.handle(up("other", "spy-9"), payload(Batch("spy-9", 1, tuple(recs[:5]))))
    return recs


@pytest.fixture
def client(db_url: str, engine: Engine, populated: list) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET))
    with TestClient(app) as c:
        yield c


def test_vehicles_are_scoped_by_fleet(client: TestClient) -> None:
    body = client.get("/v1/vehicles").json()
    assert [v["device_id"] for v in body["data"]] == ["truck-1", "van-2"]
    assert body["count"] == 2 and body["next_cursor"] is None
    other = client.get("/v1/vehicles", headers={"X-Fleet-Id": "other"}).json()
    assert [v["device_id"] for v in other["data"]] == ["spy-9"]
    assert client.get("/v1/vehicles/spy-9").status_code == 404
    page = client.get("/v1/vehicles", params={"limit": 1}).json()
    rest = client.get("/v1/vehicles", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [v["device_id"] for v in page["data"] + rest["data"]] == ["truck-1", "van-2"]


def test_vehicle_detail_and_unknown_vehicle(client: TestClient, populated: list) -> None:
    body = client.get("/v1/vehicles/truck-1").json()
    assert body["status"] == "online"
    assert body["last_event_ms"] == populated[-1].time_ms
    missing = client.get("/v1/vehicles/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    assert client.get("/v1/vehicles/nope/positions").status_code == 404


def test_positions_paginate_by_event_time(client: TestClient, populated: list) -> None:
    boot1 = [(r.time_ms, 1, r.seq) for r in populated if r.kind == "position"]
    boot1 = [k for k in boot1 if not 10 <= k[2] <= 12]
    boot2 = [(r.time_ms, 2, r.seq) for r in populated[:3] if r.kind == "position"]
    expected = sorted(boot1 + boot2)
    seen: list[tuple[int, int, int]] = []
    cursor = None
    while True:
        params = {"limit": 25} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/vehicles/truck-1/positions", params=params).json()
        assert body["count"] == len(body["data"]) <= 25
        seen += [(p["time_ms"], p["boot_id"], p["seq"]) for p in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


def test_positions_time_window_iso_and_epoch(client: TestClient, populated: list) -> None:
    start, end = T0 + 10_000, T0 + 20_000
    iso_q = {"from": "2024-05-01T12:00:10Z", "to": "2024-05-01T12:00:20+00:00"}
    by_iso = client.get("/v1/vehicles/truck-1/positions", params=iso_q).json()["data"]
    by_ms = client.get("/v1/vehicles/truck-1/positions", params={"from": start, "to": end}).json()[
        "data"
    ]
    assert by_iso == by_ms
    assert by_ms and all(start <= p["time_ms"] <= end for p in by_ms)
    first = by_ms[0]
    assert first["time"] == "2024-05-01T12:00:10Z"
    assert first["lat"] == first["data"]["lat"]


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/v1/vehicles/truck-1/positions?from=yesterday", 422, "'from'"),
        ("/v1/vehicles/truck-1/positions?to=2024-13-45", 422, "'to'"),
        ("/v1/vehicles/truck-1/positions?from=2000&to=1000", 422, "before"),
        ("/v1/vehicles/truck-1/positions?limit=0", 422, "limit"),
        ("/v1/vehicles/truck-1/positions?limit=abc", 422, "limit"),
        ("/v1/vehicles/truck-1/positions?cursor=%%%", 400, "cursor"),
        ("/v1/vehicles/truck-1/events?cursor=MTox", 400, "cursor"),
        ("/v1/vehicles/truck-1/engine?from=-5", 422, "range"),
    ],
)
def test_bad_query_parameters(client: TestClient, url: str, status: int, needle: str) -> None:
    resp = client.get(url)
    assert resp.status_code == status
    assert needle in json.dumps(resp.json())


def test_bad_fleet_header(client: TestClient) -> None:
    resp = client.get("/v1/vehicles", headers={"X-Fleet-Id": "no spaces allowed"})
    assert resp.status_code == 400
    assert "X-Fleet-Id" in resp.json()["detail"]


def test_latest(client: TestClient, populated: list) -> None:
    body = client.get("/v1/vehicles/truck-1/latest").json()
    newest = max((r for r in populated if r.kind == "position"), key=lambda r: r.time_ms)
    assert body["position"]["seq"] == newest.seq
    assert body["position"]["data"] == newest.data
    newest_engine = max((r for r in populated if r.kind == "engine"), key=lambda r: r.time_ms)
    assert body["engine"]["Vehicle.TraveledDistance"]["value"] == pytest.approx(
        newest_engine.data["Vehicle.TraveledDistance"]
    )
    assert body["status"]["state"] == "online"


def test_engine_and_events(client: TestClient, populated: list) -> None:
    eng = client.get("/v1/vehicles/truck-1/engine", params={"limit": 5}).json()
    assert eng["count"] == 5 and eng["next_cursor"]
    assert "Vehicle.Speed" in eng["data"][0]["values"]
    names = client.get(
        "/v1/vehicles/truck-1/events", params=[("name", "trip_start"), ("name", "trip_end")]
    ).json()
    got = [(e["name"], e["boot_id"]) for e in names["data"]]
    assert got.count(("trip_start", 1)) == 2 and got.count(("trip_end", 1)) == 2
    assert all(e["name"] in ("trip_start", "trip_end") for e in names["data"])
    attrs = [e["attributes"] for e in names["data"] if e["name"] == "trip_start"]
    assert {"trip": 0} in attrs


def test_trips_and_gaps(client: TestClient) -> None:
    trips = client.get("/v1/vehicles/truck-1/trips").json()
    closed = [t for t in trips["data"] if t["end_ms"] is not None]
    assert len(closed) >= 2
    assert all(t["idle_s"] > 0 and t["distance_km"] > 0 for t in closed[:2])
    gaps = client.get("/v1/vehicles/truck-1/gaps").json()
    by_boot = {b["boot_id"]: b for b in gaps["boots"]}
    assert by_boot[1]["missing"] == [[10, 12]]
    assert by_boot[1]["missing_count"] == 3
    assert by_boot[2]["missing"] == []


def test_health_and_metrics(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["last_ingest_ms"] > 0
    text = client.get("/metrics").text
    assert "fleetwire_vehicles 3" in text
    assert "# TYPE fleetwire_ingest_records_inserted_total counter" in text


def test_cli_openapi_equals_app_openapi(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["openapi"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == create_app(Settings()).openapi()
    assert "/v1/vehicles/{vehicle_id}/positions" in printed["paths"]


def test_unreachable_database_is_503() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:9/none", default_fleet=FLEET)
    with TestClient(create_app(settings)) as c:
        health = c.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"].startswith("unavailable")
        assert c.get("/v1/vehicles").status_code == 503
        assert "fleetwire_database_up 0" in c.get("/metrics").text
