"""What the processors derived for one device, as plain data to compare two deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from cloud.store import positions as pos_store
from cloud.store import trips as trip_store


def derived_results(eng: Engine, fleet: str, device: str) -> dict[str, Any]:
    with eng.connect() as conn:
        latest = pos_store.latest_position(conn, fleet, device)
        signals = pos_store.latest_signal_values(conn, fleet, device)
        return {
            "trips": [
                {k: v for k, v in t.items() if k != "fleet_id"}
                for t in trip_store.all_trips(conn, fleet, device)
            ],
            "idle": [
                {k: v for k, v in t.items() if k != "fleet_id"}
                for t in trip_store.all_idle(conn, fleet, device)
            ],
            "latest": (latest.time_ms, latest.seq, latest.data) if latest else None,
            "signals": {s.name: (s.time_ms, s.value) for s in signals},
        }
