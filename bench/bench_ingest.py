"""Ingest throughput: records stored per second by ``IngestHandler.handle`` (decode, checks,
idempotent insert, latest + trips processors, commit) for realistic 50-record batches of a
1 Hz drive with engine samples and trip/idle events; on a temp SQLite file and on
PostgreSQL (a fresh schema, dropped after; the figure is null when PostgreSQL is down)."""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from pathlib import Path

from cloud.db.engine import create_engine
from cloud.db.migrate import upgrade
from cloud.ingest.handler import IngestHandler
from wire import Batch, Record, encode_batch, quantize_position, topic_for

PG_URL = os.environ.get(
    "FLEETWIRE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BATCH = 50
SECONDS = 1800  # half an hour of driving per device
DEVICES = 2
T0 = 1_714_564_800_000


def _records(seconds: int) -> list[Record]:
    out: list[Record] = []
    seq, lat, lon, odo = 0, 45.07, 7.68, 10_000.0

    def add(kind: str, t: int, data: dict) -> None:
        nonlocal seq
        seq += 1
        out.append(Record(kind, seq, t, data))

    add("event", T0, {"name": "trip_start"})
    for s in range(1, seconds + 1):
        t = T0 + s * 1000
        cycle = s % 300
        speed = 0.0 if cycle >= 270 else 14.0 + 4 * math.sin(s / 11)
        if cycle == 270:
            add("event", t, {"name": "idle_start"})
        if cycle == 0:
            add("event", t, {"name": "idle_end"})
        lon += speed / 111_000 / math.cos(math.radians(lat))
        odo += speed / 1000
        pos = {
            "lat": lat,
            "lon": lon,
            "alt_m": 240.0,
            "speed_mps": speed,
            "course_deg": 90.0,
            "sats": 10,
            "hdop": 0.8,
            "pdop": 1.4,
            "mode": 3,
            "quality": 1,
            "valid": True,
        }
        add("position", t, quantize_position(pos))
        if s % 2 == 0:
            add(
                "engine",
                t,
                {
                    "Vehicle.Speed": speed * 3.6,
                    "Vehicle.Powertrain.CombustionEngine.Speed": 1400.0,
                    "Vehicle.TraveledDistance": round(odo, 3),
                },
            )
    add("event", T0 + (seconds + 1) * 1000, {"name": "trip_end"})
    return out


def _messages() -> list[tuple[str, bytes]]:
    recs = _records(SECONDS)
    msgs = []
    for d in range(DEVICES):
        device = f"bench-{d}"
        topic = topic_for("bench", device, "up")
        for i in range(0, len(recs), BATCH):
            msgs.append((topic, encode_batch(Batch(device, 1, tuple(recs[i : i + BATCH])))))
    return msgs


def _throughput(url: str, messages: list[tuple[str, bytes]]) -> float:
    engine = create_engine(url)
    try:
        upgrade(engine)
        handler = IngestHandler(engine)
        started = time.perf_counter()
        for topic, body in messages:
            handler.handle(topic, body)
        elapsed = time.perf_counter() - started
        stored = handler.metrics.get("records_inserted")
    finally:
        engine.dispose()
    return stored / elapsed


def _postgres(messages: list[tuple[str, bytes]]) -> float | None:
    import sqlalchemy as sa

    schema = f"fwbench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError:
        return None
    try:
        return _throughput(f"{PG_URL}?options=-csearch_path%3D{schema}", messages)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def run() -> dict[str, dict[str, object]]:
    messages = _messages()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_rate = _throughput(f"sqlite:///{Path(tmp) / 'bench.db'}", messages)
    pg_rate = _postgres(messages)
    return {
        "ingest_records_per_s_sqlite": {"value": round(sqlite_rate, 1), "unit": "records/s"},
        "ingest_records_per_s_postgres": {
            "value": round(pg_rate, 1) if pg_rate is not None else None,
            "unit": "records/s",
        },
    }


if __name__ == "__main__":
    print(run())
