"""Vehicle ELD records -> duty-status rows (cloud.processors.duty) through the real
IngestHandler, on SQLite and PostgreSQL: clocks equal the calculator's, redelivery and any
delivery order give the same rows, a late record changes violations exactly as evaluating
the complete list, edits survive reprocessing, unusable events are counted and skipped."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from agent.eld.records import VehicleSnapshot, event_attrs
from cloud.api.app import create_app
from cloud.db.tables_hos import duty_events
from cloud.ingest.handler import IngestHandler
from cloud.processors import duty
from cloud.processors.hos import DutyEvent, evaluate
from cloud.settings import Settings
from tests.cloud.factories import batches, payload, up
from wire import Batch, Record

FLEET = "dutyfleet"
TRUCK = "truck-7"
DRIVER = "jsmith"


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def z(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Truck:
    """Builds the records an agent with ELD would send: event attributes as the agent
    itself builds them (agent.eld.records.event_attrs), one ELD sequence counter."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.eld_seq = 0

    def event(self, t_ms: int, name: str, driver: str, in_force: str, **extra: Any) -> Record:
        attrs = event_attrs(
            name,
            seq=self.eld_seq,
            origin=extra.pop("origin", "auto"),
            driver_id=driver,
            duty_status=in_force,
            vehicle=VehicleSnapshot(
                odometer_km=120_000.5, engine_hours=4_321.2, lat=41.8781, lon=-87.6298, fix_ms=t_ms
            ),
            extra=extra,
        )
        self.eld_seq += 1
        rec = Record("event", len(self.records) + 1, t_ms, {"name": name, **attrs})
        self.records.append(rec)
        return rec

    def duty(self, t_ms: int, status: str, driver: str = DRIVER, **extra: Any) -> Record:
        return self.event(t_ms, "eld_duty_status", driver, status, status=status, **extra)


def long_day(truck: Truck) -> list[tuple[int, str]]:
    """A day with login, engine events, intermediate logs and unidentified driving mixed in;
    returns the driver's duty statuses."""
    truck.event(ms(2026, 1, 6, 5, 50), "eld_engine_power_up", "unidentified", "off_duty")
    truck.duty(ms(2026, 1, 6, 5, 52), "driving", driver="unidentified")  # yard shuffle
    truck.duty(ms(2026, 1, 6, 5, 55), "on_duty", driver="unidentified", reason="prompt_unanswered")
    truck.event(ms(2026, 1, 6, 5, 58), "eld_login", DRIVER, "off_duty", origin="driver")
    statuses = [
        (ms(2026, 1, 6, 6), "on_duty", {"origin": "driver", "note": "pre-trip"}),
        (ms(2026, 1, 6, 7), "driving", {}),
        (ms(2026, 1, 6, 11), "off_duty", {"origin": "driver"}),
        (ms(2026, 1, 6, 11, 45), "driving", {}),
        (ms(2026, 1, 6, 17), "on_duty", {"reason": "prompt_unanswered"}),
        (ms(2026, 1, 6, 17, 30), "off_duty", {"origin": "driver"}),
    ]
    for t, status, extra in statuses:
        truck.duty(t, status, **extra)
        if status == "driving":
            truck.event(t + 3_600_000, "eld_intermediate_log", DRIVER, "driving")
    truck.event(ms(2026, 1, 6, 17, 31), "eld_logout", DRIVER, "off_duty", origin="driver")
    truck.event(ms(2026, 1, 6, 17, 32), "eld_engine_shut_down", "unidentified", "off_duty")
    return [(t, s) for t, s, _ in statuses]


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        c.put(f"/v1/drivers/{DRIVER}", json={"name": "J Smith", "home_terminal_tz": "UTC"})
        yield c


def deliver(engine: Engine, records: list[Record], fleet: str = FLEET, size: int = 4) -> None:
    handler = IngestHandler(engine)
    for b in batches(records, TRUCK, size=size):
        result = handler.handle(up(fleet, TRUCK), payload(b))
        assert result.outcome in ("stored", "duplicate"), result
        assert not result.failed_processors


def expected(statuses: list[tuple[int, str]], at_ms: int) -> dict[str, Any]:
    events = [DutyEvent(datetime.fromtimestamp(t / 1000, UTC), s) for t, s in statuses]
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    return evaluate(events, "us_property_70_8", [], "UTC", at).to_json()


def clocks(client: TestClient, at_ms: int) -> dict[str, Any]:
    resp = client.get(f"/v1/drivers/{DRIVER}/hos/clocks", params={"at": z(at_ms)})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    for key in ("driver_id", "home_terminal_tz", "current_status", "current_status_since"):
        body.pop(key)
    return body


def stored_rows(engine: Engine, fleet: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(duty_events).where(duty_events.c.fleet_id == fleet))
        out = [dict(r._mapping) for r in rows]
    for r in out:
        for key in ("id", "fleet_id", "created_ms"):
            r.pop(key)
    return sorted(out, key=lambda r: (r["boot_id"], r["seq"]))


def test_vehicle_eld_events_give_the_calculators_clocks(engine: Engine, client: TestClient) -> None:
    truck = Truck()
    statuses = long_day(truck)
    deliver(engine, truck.records)
    for at in (ms(2026, 1, 6, 10), ms(2026, 1, 6, 16, 30), ms(2026, 1, 6, 23)):
        assert clocks(client, at) == expected(statuses, at)
    listed = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    assert [(e["start_ms"], e["status"]) for e in listed] == statuses
    first = listed[0]
    assert (first["source"], first["device_id"], first["origin"], first["note"]) == (
        "eld",
        TRUCK,
        "driver",
        "pre-trip",
    )
    assert first["eld_seq"] == 4  # power-up, 2 unidentified statuses and the login came first
    assert first["lat"] == 41.88 and first["odometer_km"] == 120_000.5
    # the unidentified driving before the login is kept, but is nobody's time
    rows = stored_rows(engine, FLEET)
    assert [r["status"] for r in rows if r["driver_id"] == "unidentified"] == [
        "driving",
        "on_duty",
    ]


def test_redelivery_and_any_order_give_the_same_rows(engine: Engine) -> None:
    truck = Truck()
    long_day(truck)
    deliver(engine, truck.records, fleet="inorder")
    shuffled = batches(truck.records, TRUCK, size=2)
    random.Random(7).shuffle(shuffled)
    handler = IngestHandler(engine)
    for b in shuffled + shuffled[::2]:  # out of order, then half of it again
        handler.handle(up("shuffled", TRUCK), payload(b))
    in_order = stored_rows(engine, "inorder")
    assert len(in_order) == 8
    assert stored_rows(engine, "shuffled") == in_order
    # running the processor again over everything changes nothing
    with engine.begin() as conn:
        duty.process(conn, "shuffled", TRUCK, 0, 2**62)
    assert stored_rows(engine, "shuffled") == in_order


def test_a_late_record_changes_violations_like_the_complete_list(
    engine: Engine, client: TestClient
) -> None:
    truck = Truck()
    statuses = long_day(truck)
    late = next(
        r
        for r in truck.records
        if r.time_ms == ms(2026, 1, 6, 11) and r.data["name"] == "eld_duty_status"
    )
    deliver(engine, [r for r in truck.records if r is not late])
    frm, to = ms(2026, 1, 6), ms(2026, 1, 7)
    url = f"/v1/drivers/{DRIVER}/hos/violations"
    without = client.get(url, params={"from": z(frm), "to": z(to)}).json()["violations"]
    partial = [(t, s) for t, s in statuses if t != late.time_ms]
    assert [{k: v[k] for k in ("rule", "start", "end")} for v in without] == expected(partial, to)[
        "violations"
    ]
    assert "break_30min" in {v["rule"] for v in without}  # 10 h of driving without a break
    deliver(engine, [late])
    after = client.get(url, params={"from": z(frm), "to": z(to)}).json()["violations"]
    assert [{k: v[k] for k in ("rule", "start", "end")} for v in after] == expected(statuses, to)[
        "violations"
    ]
    assert after != without


def test_an_edit_of_a_vehicle_event_survives_reprocessing(
    engine: Engine, client: TestClient
) -> None:
    truck = Truck()
    statuses = long_day(truck)
    deliver(engine, truck.records)
    listed = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    by_start = {e["start_ms"]: e for e in listed}
    auto_driving = by_start[ms(2026, 1, 6, 7)]
    refused = client.patch(
        f"/v1/drivers/{DRIVER}/duty-status/{auto_driving['id']}",
        json={"status": "on_duty", "note": "was not me"},
    )
    assert refused.status_code == 409 and "4.3.2.8.2" in refused.text
    off = by_start[ms(2026, 1, 6, 17, 30)]
    resp = client.patch(
        f"/v1/drivers/{DRIVER}/duty-status/{off['id']}",
        json={"status": "sleeper_berth", "note": "slept in the cab"},
    )
    assert resp.status_code == 200, resp.text
    # redelivery and a full reprocessing must not bring the original back
    deliver(engine, truck.records)
    with engine.begin() as conn:
        duty.process(conn, FLEET, TRUCK, 0, 2**62)
    everything = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    original = [e for e in everything if e["id"] == off["id"]]
    assert original[0]["record_status"] == "inactive_changed"
    assert original[0]["source"] == "eld"
    edited = [(t, "sleeper_berth" if t == off["start_ms"] else s) for t, s in statuses]
    at = ms(2026, 1, 6, 23)
    assert clocks(client, at) == expected(edited, at)


def test_unusable_events_are_counted_and_skipped(engine: Engine, client: TestClient) -> None:
    truck = Truck()
    truck.duty(ms(2026, 1, 6, 6), "on_duty", origin="driver")
    bad_status = Record(
        "event",
        2,
        ms(2026, 1, 6, 7),
        {"name": "eld_duty_status", "status": "napping", "driver_id": DRIVER, "origin": "auto"},
    )
    no_driver = Record(
        "event", 3, ms(2026, 1, 6, 8), {"name": "eld_duty_status", "status": "driving"}
    )
    before = sum(duty.skipped.values())
    handler = IngestHandler(engine)
    batch = Batch(TRUCK, 1, (truck.records[0], bad_status, no_driver))
    result = handler.handle(up(FLEET, TRUCK), payload(batch))
    assert result.inserted == 3 and not result.failed_processors
    assert sum(duty.skipped.values()) - before == 2
    listed = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    assert [(e["start_ms"], e["status"]) for e in listed] == [(ms(2026, 1, 6, 6), "on_duty")]


def test_a_long_backlog_is_reprocessed_in_one_window(engine: Engine) -> None:
    truck = Truck()
    t0 = ms(2026, 2, 2)
    for i in range(1_500):  # several upsert chunks (cloud.store.hos.UPSERT_CHUNK)
        truck.duty(t0 + i * 60_000, "driving" if i % 2 else "on_duty")
    deliver(engine, truck.records, size=250)
    with engine.begin() as conn:
        duty.process(conn, FLEET, TRUCK, 0, 2**62)
    rows = stored_rows(engine, FLEET)
    assert len(rows) == 1_500
    assert [r["time_ms"] for r in rows] == [r.time_ms for r in truck.records]


def test_two_vehicle_statuses_in_one_second_keep_the_later(
    engine: Engine, client: TestClient
) -> None:
    truck = Truck()
    truck.duty(ms(2026, 1, 6, 6), "on_duty", origin="driver")
    truck.duty(ms(2026, 1, 6, 7) + 100, "on_duty", origin="driver", note="yard check")
    truck.duty(ms(2026, 1, 6, 7) + 900, "driving")  # the truck moved in the same second
    truck.duty(ms(2026, 1, 6, 9), "off_duty", origin="driver")
    deliver(engine, truck.records)
    listed = client.get(f"/v1/drivers/{DRIVER}/duty-status").json()["data"]
    assert len(listed) == 4  # every record is kept as a row
    at = ms(2026, 1, 6, 10)
    want = [(ms(2026, 1, 6, 6), "on_duty"), (ms(2026, 1, 6, 7), "driving")]
    want.append((ms(2026, 1, 6, 9), "off_duty"))
    assert clocks(client, at) == expected(want, at)
    assert clocks(client, at)["remaining"]["drive_s"] == 9 * 3600
