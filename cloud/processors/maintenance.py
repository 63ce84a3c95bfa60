"""Fault alerts, threshold rules and preventive-maintenance schedules from vehicle data.

``process(conn, fleet_id, device_id, start_ms, end_ms)`` recomputes its results for the
event-time window from stored records (see cloud/processors/__init__.py).
"""

from __future__ import annotations

import sqlalchemy as sa


def process(conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int) -> None:
    return None
