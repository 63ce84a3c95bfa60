"""ELD end to end on the edge: the real pipeline thread runs ``EldRecorder.feed`` as its
detector, the local UI hands driver events to ``Pipeline.submit``, and everything lands
in the real SQLite outbox in the ``eld`` lane."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

from agent.clock import GnssClock
from agent.eld import DutyStore, EldParams, EldRecorder
from agent.eld.driving import ENGINE_SPEED, VEHICLE_SPEED
from agent.eld.local_ui import LocalUi
from agent.model import LANE_ELD, Signal
from agent.outbox import OutboxWriter
from agent.pipeline import Pipeline

T0 = 1_767_225_600_000  # UTC ms


def _post(base: str, path: str, body: dict[str, object]) -> int:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(resp.status)


def test_driver_and_automatic_events_reach_the_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.db"
    store = DutyStore(tmp_path / "eld.db", clock_ms=lambda: T0)
    recorder = EldRecorder(EldParams(), store)
    pipeline = Pipeline(
        lambda: OutboxWriter(outbox, commit_window_ms=50),
        clock=GnssClock(),
        detectors=[recorder.feed],
    )
    pipeline.start()
    ui = LocalUi(store, pipeline.submit, "127.0.0.1", 0)
    ui.start()
    try:
        base = f"http://127.0.0.1:{ui.port}"
        assert _post(base, "/api/login", {"driver_id": "jsmith"}) == 200
        assert _post(base, "/api/status", {"status": "on_duty", "note": "pre-trip"}) == 200
        # The UI submitted before answering, so its events are ahead in the FIFO queue.
        for i in range(3):
            pipeline.submit(Signal(T0 + 1000 + i * 500, ENGINE_SPEED, 700.0, "rpm", "j1939"))
        for i in range(5):
            pipeline.submit(Signal(T0 + 3000 + i * 1000, VEHICLE_SPEED, 50.0, "km/h", "j1939"))
    finally:
        ui.stop()
        pipeline.stop()
        store.close()
    conn = sqlite3.connect(outbox)
    rows = conn.execute(
        "SELECT lane, time_ms, data FROM records WHERE kind = 'event' ORDER BY id"
    ).fetchall()
    conn.close()
    eld = [(lane, t, json.loads(d)) for lane, t, d in rows if lane == LANE_ELD]
    got = [(d["name"], d.get("status"), d["eld_seq"], t) for _, t, d in eld]
    assert got == [
        ("eld_login", None, 0, T0),
        ("eld_duty_status", "on_duty", 1, T0),
        ("eld_engine_power_up", None, 2, T0 + 1000),
        ("eld_duty_status", "driving", 3, T0 + 3000),
    ]
    assert all(d["driver_id"] == "jsmith" for _, _, d in eld)
