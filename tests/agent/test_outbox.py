"""The SQLite outbox: sequence numbers, durability classes, the disk cap, recovery."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.errors import OutboxError
from agent.model import LANE_ELD, LANE_EVENT, LANE_FAULT, LANE_SAMPLE
from agent.outbox import OutboxReader, OutboxWriter, recover, seq_spans, thin_selection


class FakeClock:
    """A settable monotonic clock for the group-commit window (not a stand-in for a
    real part: the outbox file below is a real SQLite database)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT boot_id, seq, kind, lane, time_ms FROM records ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def test_samples_group_commit_and_eld_commits_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    out = OutboxWriter(tmp_path / "o.db", commit_window_ms=1000, clock=clock)
    out.append("position", 1000, {"lat": 1.0}, LANE_SAMPLE)
    out.append("engine", 1001, {"rpm": 600.0}, LANE_SAMPLE)
    assert _rows(tmp_path / "o.db") == []  # still inside the window
    clock.now += 0.5
    assert out.maybe_flush() == 0
    clock.now += 0.6
    assert out.maybe_flush() == 2
    out.append("position", 2000, {"lat": 1.1}, LANE_SAMPLE)
    out.append("event", 2001, {"name": "duty_status"}, LANE_ELD)  # commits both, in order
    rows = _rows(tmp_path / "o.db")
    assert [r[1] for r in rows] == [1, 2, 3, 4]
    assert [r[3] for r in rows] == [LANE_SAMPLE, LANE_SAMPLE, LANE_SAMPLE, LANE_ELD]
    assert len({r[0] for r in rows}) == 1
    out.close()


def test_boot_id_grows_and_seq_restarts_per_boot(tmp_path: Path) -> None:
    first = OutboxWriter(tmp_path / "o.db")
    first.append("event", 1, {"name": "a"}, LANE_FAULT)
    first.close()
    second = OutboxWriter(tmp_path / "o.db")
    second.append("event", 2, {"name": "b"}, LANE_FAULT)
    second.close()
    rows = _rows(tmp_path / "o.db")
    assert rows[0][0] < rows[1][0]
    assert [r[1] for r in rows] == [1, 1]


def test_reader_marks_sent_only_what_it_is_told(tmp_path: Path) -> None:
    out = OutboxWriter(tmp_path / "o.db")
    for i in range(5):
        out.append("position", i, {"lat": float(i)}, LANE_SAMPLE)
    out.flush()
    reader = OutboxReader(tmp_path / "o.db")
    rows = reader.unsent(0, 10)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    reader.mark_sent([rows[0].id, rows[2].id])
    assert [r.seq for r in reader.unsent(0, 10)] == [2, 4, 5]
    assert reader.stats()["unsent"] == 3
    assert reader.newest_unsent("position").seq == 5
    reader.close()
    out.close()


def test_disk_cap_thins_samples_and_never_touches_eld_or_faults(tmp_path: Path) -> None:
    out = OutboxWriter(tmp_path / "o.db", max_bytes=400_000)
    lat = 45.0
    for i in range(6000):
        lat += 0.0001
        out.append(
            "position",
            i * 1000,
            {"lat": lat, "lon": 7.0, "speed_mps": 10.0 + (i % 7), "pad": "x" * 60},
            LANE_SAMPLE,
        )
        if i % 500 == 0:
            out.append("event", i * 1000, {"name": "duty_status", "status": "driving"}, LANE_ELD)
            out.append("event", i * 1000, {"name": "dtc_new", "spn": 100}, LANE_FAULT)
        if i % 200 == 0:
            out.flush()
    out.flush()
    assert out.evicted > 0
    assert out.used_bytes() <= 400_000 * 1.1
    rows = _rows(tmp_path / "o.db")
    lanes = [r[3] for r in rows]
    assert lanes.count(LANE_ELD) == 12 and lanes.count(LANE_FAULT) == 12
    conn = sqlite3.connect(tmp_path / "o.db")
    evictions = conn.execute("SELECT reason, count, seq_spans FROM evictions").fetchall()
    reports = [
        json.loads(r[0])
        for r in conn.execute(
            "SELECT data FROM records WHERE kind='event' AND data LIKE '%outbox_evicted%'"
        )
    ]
    conn.close()
    assert evictions and evictions[0][0] == "thinned"
    assert sum(e[1] for e in evictions) == out.evicted
    # every eviction is reported as a record, with the sequence ranges that will never arrive
    assert sum(r["count"] for r in reports) == out.evicted
    # every record that is gone lies inside a reported span (so it reads as evicted, not lost)
    remaining = {(r[0], r[1]) for r in rows}
    spans = [span for r in reports for span in r["seq_spans"]]
    boot = rows[0][0]
    last_seq = max(r[1] for r in rows)
    gone = {(boot, s) for s in range(1, last_seq + 1)} - remaining
    assert len(gone) == out.evicted
    assert all(any(b == g[0] and lo <= g[1] <= hi for b, lo, hi in spans) for g in gone)
    out.close()


def test_thinning_keeps_turns_and_speed_extremes() -> None:
    rows = []
    for i in range(20):
        lat, lon = (0.001 * i, 0.0) if i <= 10 else (0.01, 0.001 * (i - 10))  # a right turn at 10
        speed = 30.0 if i == 5 else 10.0
        rows.append((i, "position", {"lat": lat, "lon": lon, "speed_mps": speed}))
    victims = thin_selection(rows)
    assert 10 not in victims and 5 not in victims and 0 not in victims and 19 not in victims
    assert 6 <= len(victims) <= 10


def test_seq_spans_cover_each_boot() -> None:
    assert seq_spans([(1, 5), (1, 3), (1, 4), (2, 1), (1, 9)]) == [[1, 3, 9], [2, 1, 1]]


def test_corrupt_outbox_gives_advice_and_recover_salvages(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    out = OutboxWriter(path)
    for i in range(50):
        out.append("event", i, {"name": "e", "i": i}, LANE_EVENT)
    out.flush()
    boot = out.boot_id
    out.close()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # smash the schema page
    path.write_bytes(bytes(raw))
    with pytest.raises(OutboxError, match="outbox-recover"):
        OutboxWriter(path)
    aside, salvaged = recover(path)
    assert aside.exists()
    assert salvaged == 0  # the schema page is gone: no record can be read back
    fresh = OutboxWriter(path)  # usable again, within the same second even...
    assert fresh.boot_id > boot  # ...and never under a boot id the cloud has seen
    fresh.close()


def test_boot_ids_never_repeat_when_the_outbox_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    first = OutboxWriter(path)
    first.close()
    # a new outbox within the same second (or with a clock that went back)
    path.unlink()
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    second = OutboxWriter(path)
    assert second.boot_id > first.boot_id
    second.close()


def test_recover_keeps_every_unsent_record_of_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    out = OutboxWriter(path)
    for i in range(30):
        out.append("event", i, {"name": "e", "i": i}, LANE_FAULT)
    out.close()
    _, salvaged = recover(path)
    assert salvaged == 30
    assert [r[1] for r in _rows(path)] == list(range(1, 31))


def test_locked_outbox_names_the_other_process(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    OutboxWriter(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutboxError, match="locked"):
            w = OutboxWriter(path, busy_timeout_s=0.2)
            w.append("event", 1, {"name": "x"}, LANE_ELD)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
