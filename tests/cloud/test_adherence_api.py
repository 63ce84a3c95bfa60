"""Routes API, store and processor on SQLite and PostgreSQL: plans in, positions through the
real ingest handler, adherence/events/ETA out, alerts raised and resolved, late data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.adherence import Fix
from cloud.api.app import create_app
from cloud.db.tables_alerts import alerts as alerts_table
from cloud.ingest.handler import IngestHandler
from cloud.settings import Settings
from tests.cloud.factories import payload, position, up
from tests.cloud.test_adherence_engine import (
    MIN,
    T0,
    DriveBuilder,
    chicago_plan,
    delivery_vertices,
    standard_dwell,
)
from wire import Batch, Record

FLEET = "routes-co"
WINDOWS = [(0, 30), (0, 45), (0, 10)]  # the last one is missed: late ETA, late arrival


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        yield c


def records(fixes: list[Fix]) -> list[Record]:
    return [
        position(i + 1, f.time_ms, f.lat, f.lon, f.speed_mps or 0.0)  # type: ignore[arg-type]
        for i, f in enumerate(fixes)
    ]


def send(handler: IngestHandler, device: str, recs: list[Record], size: int) -> None:
    for i in range(0, len(recs), size):
        batch = Batch(device, 1, tuple(recs[i : i + size]), sent_ms=recs[i].time_ms + 500)
        result = handler.handle(up(FLEET, device), payload(batch))
        assert result.outcome == "stored" and not result.failed_processors, result


def detour_drive(skip_stop_2: bool = False) -> list[Fix]:
    def lateral(s: float, _t: int) -> float:
        return 250.0 if 3500 <= s <= 4300 else 0.0

    dwell = standard_dwell()
    if skip_stop_2:
        del dwell[delivery_vertices()[1]]
    return DriveBuilder().drive(dwell, lateral=lateral)


def plan_for(device: str, **extra: Any) -> dict[str, Any]:
    return {**chicago_plan(windows_min=WINDOWS, **extra), "device_id": device, "driver_id": "d-7"}


def alert_rows(engine: Engine, route_id: str) -> dict[str, Any]:
    a = alerts_table
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(a).where(a.c.fleet_id == FLEET, a.c.key.like(f"route:{route_id}:%"))
        ).all()
    return {r.key: r for r in rows}


def comparable(client: TestClient, route_id: str) -> tuple[Any, ...]:
    adh = client.get(f"/v1/routes/{route_id}/adherence").json()
    events = client.get(f"/v1/routes/{route_id}/events").json()["data"]
    return adh["report"], adh["stops"], adh["state"], events


def test_live_batches_and_late_shuffled_backlog_give_the_same_report(
    engine: Engine, client: TestClient
) -> None:
    live_id = client.post("/v1/routes", json=plan_for("van-live")).json()["route_id"]
    back_id = client.post("/v1/routes", json=plan_for("van-late")).json()["route_id"]
    recs = records(detour_drive())
    handler = IngestHandler(engine)
    send(handler, "van-live", recs, size=60)  # live: small batches in time order
    # After an outage: the backlog arrives at once, in shuffled order.
    shuffled = recs[:]
    random.Random(3).shuffle(shuffled)
    send(handler, "van-late", shuffled, size=len(shuffled))

    live, late = comparable(client, live_id), comparable(client, back_id)
    assert live == late
    report, stops, state, events = live
    assert state == "completed"
    assert [s["status"] for s in stops] == ["on_time", "on_time", "late"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("off_route") == 1 and kinds.count("back_on_route") == 1
    assert "eta_late" in kinds
    assert report["off_route_episodes"] == 1 and report["stops_late"] == 1
    assert 0 < report["score"] < 100
    # the same alerts, open/resolved the same way, in both cases
    for rid in (live_id, back_id):
        rows = alert_rows(engine, rid)
        dev = [r for r in rows.values() if r.kind == "route_deviation"]
        assert len(dev) == 1 and dev[0].status == "resolved"
        assert rows[f"route:{rid}:eta:2"].status == "resolved"
        assert rows[f"route:{rid}:stop:2:arrived"].severity == "medium"
        assert all(r.status == "resolved" for r in rows.values())
    assert {k.split(":", 2)[2] for k in alert_rows(engine, live_id)} == {
        k.split(":", 2)[2] for k in alert_rows(engine, back_id)
    }


def test_late_data_corrects_events_and_withdraws_alerts(engine: Engine, client: TestClient) -> None:
    rid = client.post("/v1/routes", json=plan_for("van-gap")).json()["route_id"]
    recs = records(detour_drive())
    stop2 = DriveBuilder().path.chainage[delivery_vertices()[1]]
    # the fixes within 60 m of stop 2 (radius 40 m) are held back by an outage
    builder = DriveBuilder()
    held = [
        r
        for r in recs
        if abs(builder.path.nearest(r.data["lat"], r.data["lon"]).chainage_m - stop2) < 60
    ]
    assert len(held) >= 170
    held_seqs = {r.seq for r in held}
    handler = IngestHandler(engine)
    send(handler, "van-gap", [r for r in recs if r.seq not in held_seqs], size=100)
    first = client.get(f"/v1/routes/{rid}/adherence").json()
    assert [s["status"] for s in first["stops"]] == ["on_time", "skipped", "late"]
    assert alert_rows(engine, rid)[f"route:{rid}:stop:1:skipped"].status == "open"

    send(handler, "van-gap", held, size=len(held))  # the outage's backlog
    after = client.get(f"/v1/routes/{rid}/adherence").json()
    assert [s["status"] for s in after["stops"]] == ["on_time", "on_time", "late"]
    events = client.get(f"/v1/routes/{rid}/events", params={"kind": "skipped"}).json()
    assert events["data"] == []
    skipped = alert_rows(engine, rid)[f"route:{rid}:stop:1:skipped"]
    assert skipped.status == "resolved" and skipped.resolved_by == "recompute"
    assert after["score"] > first["score"]


def test_route_lifecycle_eta_update_cancel(engine: Engine, client: TestClient) -> None:
    created = client.post("/v1/routes", json=plan_for("van-run"))
    assert created.status_code == 201
    route = created.json()
    rid = route["route_id"]
    assert route["state"] == "planned" and route["version"] == 1
    assert route["driver_id"] == "d-7" and len(route["plan"]["stops"]) == 3
    assert client.get(f"/v1/routes/{rid}/eta").json()["stops"] == []

    fixes = detour_drive(skip_stop_2=False)
    handler = IngestHandler(engine)
    partial = [r for r in records(fixes) if r.time_ms <= T0 + 2 * MIN]
    send(handler, "van-run", partial, size=50)
    eta = client.get(f"/v1/routes/{rid}/eta").json()
    assert eta["state"] == "in_progress"
    assert [s["stop_index"] for s in eta["stops"]] == [0, 1, 2]
    assert eta["stops"][0]["eta_ms"] < eta["stops"][1]["eta_ms"] < eta["stops"][2]["eta_ms"]
    assert eta["stops"][2]["late"] is True  # 10-minute window cannot be made
    assert eta["progress_m"] > 500

    # update while running: a wider window for the last stop; recomputed at once
    changed = plan_for("van-run", corridor_m=60)
    changed["stops"][2]["window"]["end"] = T0 + 90 * MIN
    put = client.put(f"/v1/routes/{rid}", json=changed).json()
    assert put["version"] == 2 and put["plan"]["corridor_m"] == 60
    adh = client.get(f"/v1/routes/{rid}/adherence").json()
    assert adh["version"] == 2 and "0.4*corridor" in adh["score_formula"]
    assert client.get(f"/v1/routes/{rid}/eta").json()["stops"][2]["late"] is False

    listed = client.get("/v1/routes", params={"device_id": "van-run"}).json()
    assert [r["route_id"] for r in listed["data"]] == [rid]

    gone = client.delete(f"/v1/routes/{rid}").json()
    assert gone["status"] == "cancelled" and gone["state"] == "cancelled"
    assert client.put(f"/v1/routes/{rid}", json=changed).status_code == 409
    assert all(r.status == "resolved" for r in alert_rows(engine, rid).values())
    # a cancelled route is no longer followed
    rest = [r for r in records(fixes) if r.time_ms > T0 + 2 * MIN]
    send(handler, "van-run", rest, size=500)
    assert client.get(f"/v1/routes/{rid}/adherence").json()["state"] == "cancelled"
    assert client.get(f"/v1/routes/{rid}/eta").json()["stops"] == []


def test_list_pagination_and_fleet_scoping(client: TestClient) -> None:
    ids = [
        client.post("/v1/routes", json=plan_for("van-p", scheduled_start=T0 + k * MIN)).json()[
            "route_id"
        ]
        for k in range(3)
    ]
    page = client.get("/v1/routes", params={"limit": 2}).json()
    rest = client.get("/v1/routes", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["route_id"] for r in page["data"] + rest["data"]] == ids
    assert rest["next_cursor"] is None
    other = {"X-Fleet-Id": "someone-else"}
    assert client.get("/v1/routes", headers=other).json()["data"] == []
    assert client.get(f"/v1/routes/{ids[0]}", headers=other).status_code == 404
    assert client.get("/v1/routes/nope/adherence").status_code == 404
    assert client.get("/v1/routes", params={"cursor": "%%%"}).status_code == 400


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path": {"type": "LineString", "coordinates": [[-87.65, 41.88]]}}, "at least 2"),
        ({"stops": [{"name": "no place"}]}, "stops[0].location"),
        ({"corridor_m": -1}, "corridor_m"),
        (
            {
                "stops": [
                    {
                        "location": {"lat": 41.89, "lon": -87.66},
                        "window": {"start": "2024-05-01T13:00:00Z", "end": "2024-05-01T12:30:00Z"},
                    }
                ]
            },
            "end is before start",
        ),
        ({"device_id": None}, "device_id"),
        ({"device_id": "bad/id"}, "device_id"),
    ],
)
def test_bad_plans_are_422_with_a_clear_message(
    client: TestClient, change: dict[str, Any], message: str
) -> None:
    body = {**plan_for("van-x"), **change}
    answer = client.post("/v1/routes", json=body)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]
    assert client.get("/v1/routes").json()["data"] == []
