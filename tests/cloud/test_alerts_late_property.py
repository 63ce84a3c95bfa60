"""Late, repeated or reordered batches give exactly the alerts of live, in-order data.

A vehicle with a fault that comes, clears and comes back across an ignition cycle, a
pending code that becomes stored, a coolant overheat wobbling inside the hysteresis band
and a long idle is cut into batches; any delivery order (with some batches twice) must
end in the same alerts, and never open one problem twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cloud.db.engine import create_engine
from cloud.db.migrate import upgrade
from cloud.db.tables_alerts import alert_events, alerts
from cloud.ingest.handler import IngestHandler
from tests.cloud.factories import T0, payload, up
from wire import Batch, Record

FLEET = "prop"
ECT = "Vehicle.Powertrain.CombustionEngine.ECT"
RPM = "Vehicle.Powertrain.CombustionEngine.Speed"


def scenario() -> list[Batch]:
    """Two boots of one vehicle, as the agent would batch them."""
    boots: list[list[tuple[int, str, dict[str, Any]]]] = [[], []]

    def eng(boot: int, t: int, ect: float) -> None:
        boots[boot].append(
            (t, "engine", {RPM: 800.0, ECT: ect, "Vehicle.OBD.Status.IsMILOn": True})
        )

    def ev(boot: int, t: int, name: str, **attrs: Any) -> None:
        boots[boot].append((t, "event", {"name": name, **attrs}))

    def dtc(boot: int, t: int, name: str, code: str, kind: str) -> None:
        signal = "Vehicle.OBD.StoredDTCs" if kind == "stored" else "Vehicle.OBD.PendingDTCs"
        ev(boot, t, name, fault={"code": code, "kind": kind}, source="obd:7E8", signal=signal)

    for t in range(T0, T0 + 400_000, 5000):
        ect = 90.0
        if T0 + 100_000 <= t < T0 + 150_000 or T0 + 170_000 <= t < T0 + 220_000:
            ect = 108.0
        elif T0 + 150_000 <= t < T0 + 170_000:
            ect = 103.0  # inside the band: still one overheat
        eng(0, t, ect)
    dtc(0, T0 + 20_000, "dtc_new", "P0301", "stored")
    dtc(0, T0 + 30_000, "dtc_new", "P0420", "pending")
    dtc(0, T0 + 200_000, "dtc_new", "P0420", "stored")
    dtc(0, T0 + 300_000, "dtc_cleared", "P0301", "stored")
    dtc(0, T0 + 301_000, "dtc_new", "P0171", "stored")  # a blip: cleared within 1 s
    dtc(0, T0 + 302_000, "dtc_cleared", "P0171", "stored")
    ev(0, T0 + 350_000, "idle_end", start_ms=T0 - 2_000_000, duration_s=2350.0)
    t1 = T0 + 3_600_000  # next ignition cycle: both codes reported again
    for t in range(t1, t1 + 120_000, 5000):
        eng(1, t, 90.0)
    dtc(1, t1 + 1000, "dtc_new", "P0301", "stored")
    dtc(1, t1 + 1000, "dtc_new", "P0420", "stored")
    out = []
    for boot, items in enumerate(boots, start=1):
        items.sort(key=lambda i: i[0])
        recs = [Record(kind, seq, t, data) for seq, (t, kind, data) in enumerate(items, start=1)]
        out += [Batch("car-1", boot, tuple(recs[i : i + 12])) for i in range(0, len(recs), 12)]
    return out


BATCHES = scenario()


def outcome(path: Path, order: list[int]) -> tuple[Counter[tuple[Any, ...]], Counter[str]]:
    if path.exists():
        path.unlink()
    engine = create_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        handler = IngestHandler(engine)
        for i in order:
            handler.handle(up(FLEET, "car-1"), payload(BATCHES[i]))
        with engine.connect() as conn:
            rows = conn.execute(sa.select(alerts))
            # The key of a threshold alert names the start first seen, so it is not compared.
            got = Counter(
                (
                    r.kind,
                    r.key if r.kind != "threshold" else "",
                    r.status,
                    r.severity,
                    r.started_event_ms,
                    r.resolved_event_ms,
                )
                for r in rows
            )
            opened = Counter(
                str(r.alert_id)
                for r in conn.execute(
                    sa.select(alert_events.c.alert_id).where(alert_events.c.type == "alert.opened")
                )
            )
        return got, opened
    finally:
        engine.dispose()


def test_live_order_gives_the_expected_alerts(tmp_path: Path) -> None:
    got, opened = outcome(tmp_path / "live.db", list(range(len(BATCHES))))
    by_kind = Counter(k[0] for k in got)
    assert by_kind == Counter({"fault": 2, "threshold": 1, "idling": 1})
    faults = {k[1].split(":")[-1]: k for k in got if k[0] == "fault"}
    assert faults["P0301"][2:4] == ("open", "medium")  # came back after the clear
    assert faults["P0420"][2:4] == ("open", "medium")  # pending -> stored
    (th,) = [k for k in got if k[0] == "threshold"]
    assert th[2:] == ("resolved", "high", T0 + 100_000, T0 + 220_000)
    assert set(opened.values()) == {1}


@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.generate],  # each example is a fresh database; shrinking would take minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_and_redelivery_give_the_same_alerts(tmp_path: Path, data: st.DataObject) -> None:
    n = len(BATCHES)
    live, _ = outcome(tmp_path / "live.db", list(range(n)))
    order = data.draw(st.permutations(range(n)))
    again = data.draw(st.lists(st.integers(0, n - 1), max_size=4))
    got, opened = outcome(tmp_path / "shuffled.db", [*order, *again])
    assert got == live
    assert set(opened.values()) == {1}  # no alert opened twice
