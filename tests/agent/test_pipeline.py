"""The pipeline thread: observations and events reach the outbox in order, and a
failing outbox (here: a real SQLite lock held by another connection) is retried
without losing what was appended meanwhile."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from agent.clock import GnssClock
from agent.model import LANE_ELD, Event, Position, Signal
from agent.outbox import OutboxWriter
from agent.pipeline import Pipeline


def _rows(path: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        return conn.execute("SELECT seq, kind, lane FROM records ORDER BY seq").fetchall()
    finally:
        conn.close()


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return bool(predicate())


def test_a_locked_outbox_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    pipeline = Pipeline(
        lambda: OutboxWriter(path, commit_window_ms=50, busy_timeout_s=0.1),
        clock=GnssClock(),
        engine_period_s=0.0,
    )
    pipeline.start()
    try:
        t0 = 1_800_000_000_000
        pipeline.submit(Position(t0, {"lat": 1.0, "lon": 2.0, "valid": True, "flags": []}))
        assert _wait(lambda: len(_rows(path)) == 1)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file
        for i in range(1, 6):
            pipeline.submit(Position(t0 + i * 1000, {"lat": 1.0 + i, "lon": 2.0, "flags": []}))
        pipeline.submit(Event(t0 + 6000, "eld_duty_status", {"status": "on_duty"}, LANE_ELD))
        assert _wait(lambda: pipeline.counters["outbox_errors"] >= 1)
        assert pipeline.alive and pipeline.health()["outbox_error"]
        blocker.execute("ROLLBACK")
        blocker.close()
        pipeline.submit(Signal(int(time.time() * 1000), "Vehicle.Speed", 12.0, "km/h", "test"))
        assert _wait(lambda: len(_rows(path)) == 8)
    finally:
        pipeline.stop()
    rows = _rows(path)
    assert [r[0] for r in rows] == list(range(1, 9))  # no hole, nothing twice
    assert [r[1] for r in rows[:7]] == ["position"] * 6 + ["event"]
    assert rows[6][2] == LANE_ELD
    assert pipeline.health()["outbox_error"] is None
