"""Benchmark: evaluate 14 days of a busy driver's duty-status events (~20 changes a day).

``run()`` returns ``{"hos_eval_14d_ms": {"value": ms, "unit": "ms"}}``, the median wall
time of several full evaluations (validation, split-sleeper search, break, cycle).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from cloud.processors.hos import DutyEvent, evaluate

RUNS = 9
DAYS = 14

# One busy day, 24 h in total: a 10 h rest, then short hauls with stops, a yard move,
# personal conveyance and two short breaks (21 status changes).
BUSY_DAY = [
    ("off_duty", 600),
    ("on_duty", 15),
    ("driving", 150),
    ("on_duty", 20),
    ("driving", 105),
    ("off_duty", 30),
    ("driving", 120),
    ("on_duty", 45),
    ("yard_move", 10),
    ("driving", 90),
    ("on_duty", 10),
    ("driving", 50),
    ("off_duty", 15),
    ("driving", 40),
    ("on_duty", 20),
    ("personal_conveyance", 20),
    ("sleeper_berth", 30),
    ("driving", 25),
    ("on_duty", 15),
    ("driving", 20),
    ("off_duty", 20),
]
# A team-style day with a 7/3 split instead of the 10-hour rest.
SPLIT_DAY = [
    ("sleeper_berth", 420),
    ("on_duty", 15),
    ("driving", 240),
    ("on_duty", 30),
    ("driving", 135),
    ("off_duty", 180),
    ("driving", 180),
    ("on_duty", 30),
    ("driving", 90),
    ("off_duty", 120),
]


def busy_events(days: int = DAYS) -> tuple[list[DutyEvent], datetime]:
    """Events for ``days`` days (every fifth day a split-sleeper day) and the end instant."""
    t = datetime(2026, 3, 2, 5, tzinfo=UTC)
    events = []
    for d in range(days):
        for status, minutes in SPLIT_DAY if d % 5 == 4 else BUSY_DAY:
            events.append(DutyEvent(t, status))
            t += timedelta(minutes=minutes)
    events[-1] = DutyEvent(events[-1].start, events[-1].status, end=t)
    return events, t


def run() -> dict[str, dict[str, float | str]]:
    events, end = busy_events()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        evaluate(events, "us_property_70_8", [], "America/New_York", end)
        times.append((time.perf_counter() - t0) * 1000)
    return {"hos_eval_14d_ms": {"value": round(statistics.median(times), 3), "unit": "ms"}}


if __name__ == "__main__":
    print(json.dumps(run()))
