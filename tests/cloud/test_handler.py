"""The ingest handler and the store on SQLite and PostgreSQL: idempotence, rejects, late data."""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.db.tables import dirty_windows, events, positions, quarantine, records
from cloud.ingest.handler import (
    DUPLICATE,
    IGNORED,
    QUARANTINED,
    REJECTED,
    STATUS,
    STORED,
    IngestHandler,
)
from cloud.processors import PROCESSORS, Processor
from cloud.store import positions as pos_store
from cloud.store import records as rec_store
from cloud.store import trips as trip_store
from cloud.store import vehicles as veh_store
from tests.cloud.derived import derived_results
from tests.cloud.factories import T0, batches, drive, event, payload, position, up
from tests.cloud.factories import engine as engine_rec
from wire import Batch, Record, encode_batch, topic_for


def count(eng: Engine, table: sa.Table, **where: Any) -> int:
    q = sa.select(sa.func.count()).select_from(table)
    for key, value in where.items():
        q = q.where(table.c[key] == value)
    with eng.connect() as conn:
        return conn.execute(q).scalar_one()


def test_batch_is_stored_with_positions_events_and_vehicle(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=30)
    result = handler.handle(up("f1", "truck-1"), payload(Batch("truck-1", 7, tuple(recs))))
    assert result.outcome == STORED
    assert result.inserted == len(recs)
    assert result.window == (recs[0].time_ms, recs[-1].time_ms)
    assert count(engine, records, fleet_id="f1", device_id="truck-1") == len(recs)
    n_pos = sum(r.kind == "position" for r in recs)
    assert count(engine, positions, device_id="truck-1") == n_pos
    assert count(engine, events, device_id="truck-1") == sum(r.kind == "event" for r in recs)
    with engine.connect() as conn:
        vehicle = veh_store.get_vehicle(conn, "f1", "truck-1")
        stored = rec_store.records_between(conn, "f1", "truck-1", "position", None, None)
    assert vehicle is not None
    assert vehicle.last_boot_id == 7
    assert vehicle.last_event_ms == recs[-1].time_ms
    # Data reads back exactly as sent.
    first_pos = next(r for r in recs if r.kind == "position")
    assert stored[0].data == first_pos.data
    assert handler.metrics.get("records_inserted") == len(recs)


def test_redelivery_stores_once(engine: Engine) -> None:
    handler = IngestHandler(engine)
    batch = batches(drive(seconds_per_trip=20), "d1", size=25)[0]
    first = handler.handle(up("f", "d1"), payload(batch))
    again = handler.handle(up("f", "d1"), payload(batch))
    assert (first.outcome, first.inserted) == (STORED, 25)
    assert (again.outcome, again.inserted, again.duplicates) == (DUPLICATE, 0, 25)
    assert count(engine, records, device_id="d1") == 25
    assert count(engine, positions, device_id="d1") == sum(
        r.kind == "position" for r in batch.records
    )
    assert handler.metrics.get("records_duplicate") == 25


def test_partly_overlapping_batch_inserts_only_new_records(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=20)
    handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs[:30]))))
    result = handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs[20:40]))))
    assert (result.inserted, result.duplicates) == (10, 10)
    assert count(engine, records, device_id="d") == 40


def test_same_seq_in_another_fleet_or_boot_is_a_different_record(engine: Engine) -> None:
    handler = IngestHandler(engine)
    batch = Batch("d", 1, (position(1, T0, 45.0, 7.0, 1.0),))
    other_boot = Batch("d", 2, (position(1, T0 + 5, 45.0, 7.0, 1.0),))
    assert handler.handle(up("fleet-a", "d"), payload(batch)).inserted == 1
    assert handler.handle(up("fleet-b", "d"), payload(batch)).inserted == 1
    assert handler.handle(up("fleet-a", "d"), payload(other_boot)).inserted == 1
    assert count(engine, records, fleet_id="fleet-a") == 2
    assert count(engine, records, fleet_id="fleet-b") == 1


def test_device_mismatch_is_rejected_quarantined_and_counted(engine: Engine) -> None:
    handler = IngestHandler(engine)
    batch = Batch("someone-else", 1, (position(1, T0, 45.0, 7.0, 1.0),))
    result = handler.handle(up("f", "truck-1"), payload(batch))
    assert result.outcome == REJECTED
    assert "someone-else" in result.reason
    assert handler.metrics.get("rejected") == 1
    assert count(engine, records) == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(quarantine)).one()
    assert row.device_id == "truck-1"
    assert "device mismatch" in row.reason
    assert bytes(row.payload) == payload(batch)


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("fw/v1/f/d/up", b"", "undecodable"),
        ("fw/v1/f/d/up", b"not a batch at all", "bad magic"),
        ("fw/v1/f/d/up", b"FW\x09\x00rest", "version 9"),
        ("fw/v1/f/d/up", None, "truncated"),  # a real batch cut in half
        ("fw/v1/f/d/status", b"{not json", "not JSON"),
        ("fw/v1/f/d/status", b'{"online": true}', "state"),
        ("fw/v1/f/d/down", b"{}", "not ingested"),
        ("elsewhere/x", b"x", "bad topic"),
        ("fw/v1/f/bad device/up", b"x", "bad topic"),
    ],
)
def test_corrupt_messages_are_quarantined(
    engine: Engine, topic: str, body: bytes | None, reason: str
) -> None:
    handler = IngestHandler(engine)
    if body is None:
        full = encode_batch(Batch("d", 1, tuple(drive(seconds_per_trip=10)[:20])), compress=False)
        body = full[: len(full) // 2]
    result = handler.handle(topic, body)
    assert result.outcome == QUARANTINED
    assert reason in result.reason
    with engine.connect() as conn:
        row = conn.execute(sa.select(quarantine)).one()
    assert row.topic == topic
    assert bytes(row.payload) == body
    assert reason in row.reason
    assert count(engine, records) == 0
    assert handler.metrics.get("quarantined") == 1


def test_invalid_records_are_skipped_and_the_payload_kept(engine: Engine) -> None:
    handler = IngestHandler(engine)
    good = position(1, T0, 45.0, 7.0, 3.0)
    bad_lat = position(2, T0 + 1000, 95.0, 7.0, 3.0)
    nameless = event(3, T0 + 2000, "")
    nul = event(4, T0 + 3000, "dtc_new", code="P0\x00301")
    body = payload(Batch("d", 1, (good, bad_lat, nameless, nul)))
    result = handler.handle(up("f", "d"), body)
    assert (result.outcome, result.inserted, result.invalid) == (STORED, 1, 3)
    assert count(engine, records, device_id="d") == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(quarantine)).one()
    assert "3 invalid record(s)" in row.reason
    assert "seq 2: latitude 95.0" in row.reason
    assert "seq 4" in row.reason
    assert bytes(row.payload) == body
    assert handler.metrics.get("records_invalid") == 3


def test_status_messages_update_vehicle_and_keep_the_newest(engine: Engine) -> None:
    handler = IngestHandler(engine)
    topic = topic_for("f", "d", "status")
    assert handler.handle(topic, b'{"state": "online", "time_ms": 2000}').outcome == STATUS
    assert handler.handle(topic, b'{"state": "offline", "time_ms": 1000}').outcome == IGNORED
    assert handler.handle(topic, b"").outcome == IGNORED
    with engine.connect() as conn:
        status = veh_store.get_status(conn, "f", "d")
        vehicle = veh_store.get_vehicle(conn, "f", "d")
    assert status is not None and status.state == "online"
    assert status.data == {"state": "online", "time_ms": 2000}
    assert vehicle is not None and vehicle.last_status == "online"
    assert handler.handle(topic, b'{"state": "offline", "time_ms": 3000}').outcome == STATUS
    with engine.connect() as conn:
        assert veh_store.get_vehicle(conn, "f", "d").last_status == "offline"


@pytest.mark.parametrize("seed", [1, 2])
def test_late_data_gives_the_in_order_result(engine: Engine, seed: int) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=90)
    in_order = batches(recs, "truck", size=20)
    for b in in_order:
        handler.handle(up("live", "truck"), payload(b))
    expected = derived_results(engine, "live", "truck")
    # The same records, regrouped into different batches, delivered shuffled with repeats.
    rng = random.Random(seed)
    shuffled = list(recs)
    rng.shuffle(shuffled)
    late = [Batch("truck", 1, tuple(shuffled[i : i + 17])) for i in range(0, len(shuffled), 17)]
    late += rng.sample(late, 3)
    for b in late:
        handler.handle(up("late", "truck"), payload(b))
    got = derived_results(engine, "late", "truck")

    assert len(expected["trips"]) == 2
    assert all(t["end_reason"] == "trip_end" for t in expected["trips"])
    assert all(t["idle_ms"] > 0 for t in expected["trips"])
    assert len(expected["idle"]) == 2
    assert expected["latest"][1] == max(r.seq for r in recs if r.kind == "position")
    assert got == expected


def test_trip_statistics(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=60)
    handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs))))
    with engine.connect() as conn:
        trips = trip_store.all_trips(conn, "f", "d")
    trip_recs = [r for r in recs if r.time_ms <= trips[0]["end_ms"]]
    odo = [r.data["Vehicle.TraveledDistance"] for r in trip_recs if r.kind == "engine"]
    speeds = [r.data["speed_mps"] for r in trip_recs if r.kind == "position"]
    first = next(r for r in trip_recs if r.kind == "position")
    idle = [r.time_ms for r in trip_recs if r.kind == "event" and r.data["name"].startswith("idle")]
    t = trips[0]
    assert t["start_ms"] == recs[0].time_ms
    assert t["distance_km"] == pytest.approx(odo[-1] - odo[0])
    assert t["max_speed_kmh"] == pytest.approx(max(speeds) * 3.6, abs=1e-3)
    assert (t["start_lat"], t["start_lon"]) == (first.data["lat"], first.data["lon"])
    assert t["idle_ms"] == idle[1] - idle[0]
    assert t["positions"] == len(speeds)


def test_open_trip_closes_when_its_end_arrives_late(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=30)
    end_idx = next(
        i for i, r in enumerate(recs) if r.kind == "event" and r.data["name"] == "trip_end"
    )
    withheld = recs[end_idx]
    handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs[:end_idx]))))
    with engine.connect() as conn:
        assert trip_store.all_trips(conn, "f", "d")[0]["end_ms"] is None
    handler.handle(up("f", "d"), payload(Batch("d", 1, (withheld,))))
    with engine.connect() as conn:
        trip = trip_store.all_trips(conn, "f", "d")[0]
    assert (trip["end_ms"], trip["end_reason"]) == (withheld.time_ms, "trip_end")


def test_latest_is_not_overwritten_by_older_data(engine: Engine) -> None:
    handler = IngestHandler(engine)
    new = Batch("d", 1, (position(5, T0 + 5000, 45.5, 7.5, 9.0), engine_rec(6, T0 + 5000, 30, 10)))
    old = Batch("d", 1, (position(1, T0, 45.0, 7.0, 1.0), engine_rec(2, T0, 5, 9)))
    handler.handle(up("f", "d"), payload(new))
    handler.handle(up("f", "d"), payload(old))
    with engine.connect() as conn:
        latest = pos_store.latest_position(conn, "f", "d")
        signals = {s.name: s.value for s in pos_store.latest_signal_values(conn, "f", "d")}
    assert (latest.seq, latest.data["lat"]) == (5, 45.5)
    assert signals["Vehicle.Speed"] == 30


def test_positions_flagged_unusable_never_become_latest(engine: Engine) -> None:
    handler = IngestHandler(engine)
    good = position(1, T0, 45.0, 7.0, 5.0)
    jump = position(2, T0 + 1000, 46.0, 8.0, 5.0)
    zero = position(3, T0 + 2000, 0.0, 0.0, 0.0)
    thin = position(4, T0 + 3000, 45.0001, 7.0, 5.0)  # less exact, still usable
    records = (
        good,
        Record(jump.kind, jump.seq, jump.time_ms, {**jump.data, "flags": ["jump"]}),
        Record(zero.kind, zero.seq, zero.time_ms, {**zero.data, "flags": ["zero_position"]}),
    )
    handler.handle(up("f", "d"), payload(Batch("d", 1, records)))
    with engine.connect() as conn:
        assert pos_store.latest_position(conn, "f", "d").seq == 1
    few_sats = Record(thin.kind, thin.seq, thin.time_ms, {**thin.data, "flags": ["few_sats"]})
    handler.handle(up("f", "d"), payload(Batch("d", 1, (few_sats,))))
    with engine.connect() as conn:
        assert pos_store.latest_position(conn, "f", "d").seq == 4


def test_sequence_gaps_per_boot(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=20)
    keep = [r for r in recs if not (5 <= r.seq <= 9 or r.seq == 15 or r.seq <= 2)]
    handler.handle(up("f", "d"), payload(Batch("d", 3, tuple(keep))))
    handler.handle(up("f", "d"), payload(Batch("d", 4, tuple(recs[:4]))))
    with engine.connect() as conn:
        gaps = {g.boot_id: g for g in rec_store.sequence_gaps(conn, "f", "d")}
    assert gaps[3].missing == [(1, 2), (5, 9), (15, 15)]
    assert gaps[3].received == len(keep)
    assert gaps[4].missing == []
    assert (gaps[4].first_seq, gaps[4].last_seq) == (1, 4)


def test_failing_processor_keeps_the_batch_and_a_dirty_window(engine: Engine) -> None:
    calls: list[tuple[int, int]] = []
    fail = {"on": True}

    def flaky(conn: sa.Connection, fleet: str, device: str, start: int, end: int) -> None:
        calls.append((start, end))
        if fail["on"]:
            raise RuntimeError("boom")

    handler = IngestHandler(engine, processors=(*PROCESSORS, Processor("flaky", flaky)))
    recs = drive(seconds_per_trip=20)
    first = handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs[:10]))))
    assert first.failed_processors == ["flaky"]
    assert count(engine, records) == 10
    assert count(engine, dirty_windows, processor="flaky") == 1
    fail["on"] = False
    handler.handle(up("f", "d"), payload(Batch("d", 1, tuple(recs[10:20]))))
    # The retry covers both the old and the new window, then the dirty row is gone.
    assert calls[-1] == (recs[0].time_ms, recs[19].time_ms)
    assert count(engine, dirty_windows) == 0
    assert handler.metrics.get("processor_failures") == 1


def test_unreachable_database_raises_database_unavailable() -> None:
    from cloud.db.engine import create_engine
    from cloud.ingest.handler import DatabaseUnavailable

    eng = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    handler = IngestHandler(eng)
    batch = Batch("d", 1, (position(1, T0, 45.0, 7.0, 1.0),))
    try:
        with pytest.raises(DatabaseUnavailable):
            handler.handle(up("f", "d"), payload(batch))
        # Even a message that would be quarantined cannot be: still "unavailable".
        with pytest.raises(DatabaseUnavailable):
            handler.handle(up("f", "d"), b"garbage")
    finally:
        eng.dispose()
    assert handler.metrics.get("errors") == 2


def test_repeated_sequence_in_one_batch_keeps_the_first(engine: Engine) -> None:
    handler = IngestHandler(engine)
    first = position(1, T0, 45.0, 7.0, 1.0)
    clash = position(1, T0 + 1000, 46.0, 8.0, 2.0)
    result = handler.handle(up("f", "d"), payload(Batch("d", 1, (first, clash))))
    assert (result.outcome, result.inserted, result.invalid) == (STORED, 1, 1)
    with engine.connect() as conn:
        rows = rec_store.records_between(conn, "f", "d", "position", None, None)
    assert [r.data["lat"] for r in rows] == [45.0]


def test_late_record_on_a_trip_boundary_updates_both_trips(engine: Engine) -> None:
    handler = IngestHandler(engine)
    # Trip 1 is closed by trip 2's start (no trip_end); a fix at exactly that ms comes late.
    recs = [
        event(1, T0, "trip_start"),
        position(2, T0 + 1000, 45.0, 7.0, 5.0),
        event(3, T0 + 5000, "trip_start"),
        position(4, T0 + 5000, 45.001, 7.0, 20.0),
        position(5, T0 + 6000, 45.002, 7.0, 6.0),
    ]
    handler.handle(up("live", "d"), payload(Batch("d", 1, tuple(recs))))
    handler.handle(up("late", "d"), payload(Batch("d", 1, tuple(recs[:3] + recs[4:]))))
    handler.handle(up("late", "d"), payload(Batch("d", 1, (recs[3],))))
    live, late = derived_results(engine, "live", "d"), derived_results(engine, "late", "d")
    assert [t["end_reason"] for t in live["trips"]] == ["next_start", None]
    assert live["trips"][0]["max_speed_kmh"] == pytest.approx(72.0)
    assert late == live


def test_late_idle_end_fixes_the_idle_time_of_later_trips(engine: Engine) -> None:
    handler = IngestHandler(engine)
    recs = drive(seconds_per_trip=30)
    idle_end = next(r for r in recs if r.kind == "event" and r.data["name"] == "idle_end")
    for b in batches(recs, "d", size=20):
        handler.handle(up("live", "d"), payload(b))
    # Without the first idle_end, that idle period runs on into the second trip ...
    rest = [r for r in recs if r is not idle_end]
    for b in batches(rest, "d", size=20):
        handler.handle(up("late", "d"), payload(b))
    before = derived_results(engine, "late", "d")
    assert (
        before["trips"][1]["idle_ms"] > derived_results(engine, "live", "d")["trips"][1]["idle_ms"]
    )
    # ... until it arrives, last of all.
    handler.handle(up("late", "d"), payload(Batch("d", 1, (idle_end,))))
    assert derived_results(engine, "late", "d") == derived_results(engine, "live", "d")


def test_gaps_split_into_missing_and_evicted() -> None:
    from cloud.store.records import split_evicted

    holes = [(2, 2), (4, 9), (20, 25)]
    spans = [(5, 7), (21, 30)]
    missing, evicted = split_evicted(holes, spans)
    assert missing == [(2, 2), (4, 4), (8, 9), (20, 20)]
    assert evicted == [(5, 7), (21, 25)]
    assert split_evicted([(1, 3)], []) == ([(1, 3)], [])
