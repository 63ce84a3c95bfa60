"""Backlog drain: 24 hours of 1 Hz data (86,400 positions and as many engine samples)
waiting in the agent's outbox after an outage, sent with the agent's default uplink
settings (backlog rate limit included) through Mosquitto to a cloud ingest process
writing SQLite. Figure: seconds until the cloud has stored every record
(``backlog_24h_drain_s``)."""

from __future__ import annotations

import math
import socket
import tempfile
import time
from pathlib import Path

from agent.config import load_config
from agent.model import LANE_SAMPLE
from agent.outbox import OutboxReader, OutboxWriter
from agent.uplink import Uplink
from tests.harness import Processes, cloud_records
from wire.records import quantize_position

DAY_S = 86_400


def _fill(path: Path) -> int:
    out = OutboxWriter(path, max_bytes=2 * 1024**3)
    t0 = 1_760_000_000_000
    lat, lon = 41.88, -87.63
    for i in range(DAY_S):
        speed = 20 + 5 * math.sin(i / 300)
        lat += speed * 1e-6
        out.append(
            "position",
            t0 + i * 1000,
            quantize_position(
                {
                    "lat": lat,
                    "lon": lon,
                    "alt_m": 180.0,
                    "speed_mps": speed,
                    "course_deg": 0.0,
                    "sats": 10,
                    "hdop": 0.9,
                    "mode": 3,
                    "quality": 1,
                    "valid": True,
                    "flags": [],
                }
            ),
            LANE_SAMPLE,
        )
        out.append(
            "engine",
            t0 + i * 1000 + 500,
            {
                "Vehicle.Speed": round(speed * 3.6, 2),
                "Vehicle.Powertrain.CombustionEngine.Speed": 1200.0 + (i % 50),
            },
            LANE_SAMPLE,
        )
        if i % 5000 == 0:
            out.flush()
    out.close()
    return 2 * DAY_S


def run() -> dict[str, dict[str, object]]:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        return {"backlog_24h_drain_s": {"value": None, "unit": "s (no Mosquitto)"}}
    defaults = load_config(env={"FLEETWIRE_AGENT__DEVICE__ID": "x"}).section("uplink")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        outbox = tmp_path / "outbox.db"
        total = _fill(outbox)
        fleet, device = f"backlog{int(time.time())}", "truck-backlog"
        db_url = f"sqlite:///{tmp_path / 'cloud.db'}"
        procs = Processes(tmp_path)
        uplink = Uplink(
            lambda: OutboxReader(outbox),
            fleet,
            device,
            "mqtt://127.0.0.1:1883",
            batch_max_records=defaults["batch_max_records"],
            batch_max_bytes=defaults["batch_max_bytes"],
            batch_max_age_s=defaults["batch_max_age_s"],
            inflight=defaults["inflight"],
            backlog_records_per_s=defaults["backlog_records_per_s"],
        )
        try:
            procs.ingest(db_url, "mqtt://127.0.0.1:1883", f"bench-{fleet}", fleet)
            time.sleep(1.5)
            started = time.monotonic()
            uplink.start()
            while len(cloud_records(db_url, fleet, device)) < total:
                if time.monotonic() - started > 900:
                    raise RuntimeError("backlog did not drain within 15 minutes")
                time.sleep(1.0)
            elapsed = time.monotonic() - started
        finally:
            uplink.stop()
            procs.stop_all()
    return {
        "backlog_24h_drain_s": {"value": round(elapsed, 1), "unit": "s"},
        "backlog_24h_records": {"value": total, "unit": "records"},
        "backlog_bytes_per_record": {
            "value": round(uplink.counters["bytes"] / max(uplink.counters["records"], 1), 2),
            "unit": "bytes/record",
        },
    }
