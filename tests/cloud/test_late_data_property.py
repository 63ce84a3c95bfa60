"""Property: however the records of a drive are batched, ordered and repeated, the derived
results (trips, idle periods, latest position and values) equal the in-order ones."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from cloud.ingest.handler import IngestHandler
from tests.cloud.derived import derived_results
from tests.cloud.factories import batches, drive, payload, up
from wire import Batch

RECORDS = drive(seconds_per_trip=24)
_fleets = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(RECORDS))),
    size=st.integers(min_value=1, max_value=40),
    repeats=st.lists(st.integers(min_value=0, max_value=len(RECORDS) - 1), max_size=5),
)
def test_any_delivery_order_gives_the_in_order_result(
    sqlite_engine: Engine, order: list[int], size: int, repeats: list[int]
) -> None:
    handler = IngestHandler(sqlite_engine)
    n = next(_fleets)
    live, late = f"live{n}", f"late{n}"
    for b in batches(RECORDS, "d", size=25):
        handler.handle(up(live, "d"), payload(b))
    shuffled = [RECORDS[i] for i in order]
    groups = [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
    groups += [[RECORDS[i]] for i in repeats]  # redelivered records
    for group in groups:
        handler.handle(up(late, "d"), payload(Batch("d", 1, tuple(group))))
    expected: dict[str, Any] = derived_results(sqlite_engine, live, "d")
    assert len(expected["trips"]) == 2
    assert derived_results(sqlite_engine, late, "d") == expected
