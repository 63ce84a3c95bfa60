"""Fixtures for the simulator tests: a short route file, unique CAN channel names and
the shared real data folder (for the third-party J1939 DBC)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"

# An L-shaped street route (about 0.6 km) with one short delivery stop at the corner.
SHORT_ROUTE = {
    "name": "test L",
    "source": "hand-made for tests",
    "speed_limit_kmh": 40,
    "points": [
        [41.8855, -87.65206],
        [41.8855, -87.654486],
        [41.8855, -87.656912],
        [41.88731, -87.656912],
    ],
    "stops": [{"point": 2, "dwell_s": 5, "name": "corner"}],
}


def shared_data_dir() -> Path:
    return SHARED_DATA.resolve()


@pytest.fixture
def short_route_file(tmp_path: Path) -> Path:
    path = tmp_path / "short.json"
    path.write_text(json.dumps(SHORT_ROUTE), encoding="utf-8")
    return path


@pytest.fixture
def channel() -> str:
    return f"simtest-{uuid.uuid4().hex[:10]}"
