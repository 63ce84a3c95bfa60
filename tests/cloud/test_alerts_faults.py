"""Fault, threshold and idling alerts from ingested vehicle data, decided by event time:
debounce, de-duplication across ignition cycles, automatic resolution, hysteresis."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.alerts.faults import episodes
from cloud.alerts.thresholds import ThresholdRule
from cloud.alerts.thresholds import episodes as th_episodes
from cloud.db.tables_alerts import alert_events, alerts
from cloud.ingest.handler import IngestHandler
from cloud.store import alerts as alert_store
from tests.cloud.factories import T0, payload, up
from wire import Batch, Record

FLEET = "faults"
ECT = "Vehicle.Powertrain.CombustionEngine.ECT"
EOP = "Vehicle.Powertrain.CombustionEngine.EOP"
RPM = "Vehicle.Powertrain.CombustionEngine.Speed"
OBD_SRC, OBD_STORED, OBD_PENDING = "obd:7E8", "Vehicle.OBD.StoredDTCs", "Vehicle.OBD.PendingDTCs"


class Vehicle:
    """Builds records of one device with a boot id and running sequence numbers."""

    def __init__(self, engine: Engine, device: str = "car-1") -> None:
        self.handler = IngestHandler(engine)
        self.device = device
        self.boot = 1
        self.seq = 0

    def new_boot(self) -> None:
        self.boot += 1
        self.seq = 0

    def rec(self, kind: str, t: int, data: dict[str, Any]) -> Record:
        self.seq += 1
        return Record(kind, self.seq, t, data)

    def send(self, recs: list[Record]) -> None:
        self.handler.handle(
            up(FLEET, self.device), payload(Batch(self.device, self.boot, tuple(recs)))
        )

    def samples(self, t0: int, t1: int, every_ms: int = 5000, **values: float) -> list[Record]:
        data = {RPM: 750.0, "Vehicle.OBD.Status.IsMILOn": True, ECT: 88.0, EOP: 300.0}
        data.update({_name(k): v for k, v in values.items()})
        return [self.rec("engine", t, dict(data)) for t in range(t0, t1 + 1, every_ms)]

    def dtc(self, t: int, name: str, code: str, kind: str = "stored") -> Record:
        signal = OBD_STORED if kind == "stored" else OBD_PENDING
        attrs: dict[str, Any] = {
            "fault": {"code": code, "kind": kind},
            "source": OBD_SRC,
            "signal": signal,
        }
        if name == "dtc_new":
            attrs["snapshot"] = {ECT: {"value": 91.0, "source": OBD_SRC, "time_ms": t}}
        return self.rec("event", t, {"name": name, **attrs})


def _name(short: str) -> str:
    return {"ect": ECT, "eop": EOP, "rpm": RPM}[short]


def rows(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = (
            sa.select(alerts)
            .where(alerts.c.fleet_id == FLEET, alerts.c.kind == kind)
            .order_by(alerts.c.id)
        )
        return [dict(r._mapping) for r in conn.execute(q)]


def history(engine: Engine, alert_id: int) -> list[str]:
    e = alert_events
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(e.c.type).where(e.c.alert_id == alert_id).order_by(e.c.id)
            ).scalars()
        )


def test_one_alert_across_ignition_cycles_resolved_when_cleared_reopened_when_back(
    engine: Engine,
) -> None:
    v = Vehicle(engine)
    v.send([v.dtc(T0, "dtc_new", "P0301"), *v.samples(T0, T0 + 60_000)])
    (a,) = rows(engine, "fault")
    assert a["title"] == "P0301: Cylinder 1 misfire detected"
    assert a["severity"] == "medium" and a["details"]["mil_on"] is True
    assert a["details"]["snapshot"][ECT]["value"] == 91.0
    # ignition off, the agent restarts: it reports the same stored code again
    v.new_boot()
    t = T0 + 3_600_000
    v.send([v.dtc(t, "dtc_new", "P0301"), *v.samples(t, t + 60_000)])
    (a,) = rows(engine, "fault")
    assert a["details"]["reports"] == 2 and a["status"] == "open"
    assert history(engine, a["id"]) == ["alert.opened"]
    # the code clears: resolved automatically, kept as history
    v.send([v.dtc(t + 70_000, "dtc_cleared", "P0301"), *v.samples(t + 75_000, t + 90_000)])
    (a,) = rows(engine, "fault")
    assert (a["status"], a["resolved_event_ms"]) == ("resolved", t + 70_000)
    assert a["resolved_by"] == "system: fault cleared"
    # redelivery of everything changes nothing
    v.send([v.dtc(t + 70_000, "dtc_cleared", "P0301")])
    # back a day later: the same alert reopens
    t2 = T0 + 86_400_000
    v.send([v.dtc(t2, "dtc_new", "P0301"), *v.samples(t2, t2 + 30_000)])
    (a,) = rows(engine, "fault")
    assert a["status"] == "open" and a["occurrences"] == 2
    assert history(engine, a["id"]) == ["alert.opened", "alert.resolved", "alert.reopened"]


def test_a_blip_shorter_than_the_debounce_never_alerts(engine: Engine) -> None:
    v = Vehicle(engine)
    v.send(
        [
            *v.samples(T0, T0 + 2000, every_ms=1000),
            v.dtc(T0 + 2500, "dtc_new", "P0171"),
            v.dtc(T0 + 5000, "dtc_cleared", "P0171"),
            *v.samples(T0 + 6000, T0 + 120_000),
        ]
    )
    assert rows(engine, "fault") == []
    # the fleet shortens the debounce: now it counts (recomputed from the stored events)
    with engine.begin() as conn:
        alert_store.create_rule(conn, FLEET, "setting", "fault_debounce_s", {"value": 2}, 0)
    v.send(v.samples(T0 + 125_000, T0 + 125_000))
    (a,) = rows(engine, "fault")
    assert a["status"] == "resolved"


def test_pending_becomes_stored_escalates_and_fleet_override(engine: Engine) -> None:
    v = Vehicle(engine)
    v.send([v.dtc(T0, "dtc_new", "P0420", "pending"), *v.samples(T0, T0 + 30_000)])
    (a,) = rows(engine, "fault")
    assert a["severity"] == "low" and a["details"]["severity_reason"] == "pending DTC"
    v.send([v.dtc(T0 + 40_000, "dtc_new", "P0420", "stored"), *v.samples(T0 + 40_000, T0 + 60_000)])
    (a,) = rows(engine, "fault")
    assert a["severity"] == "medium" and a["details"]["kinds"] == ["pending", "stored"]
    assert history(engine, a["id"]) == ["alert.opened", "alert.escalated"]
    with engine.begin() as conn:
        alert_store.create_rule(conn, FLEET, "severity_override", "P0420", {"severity": "high"}, 0)
    v.send(v.samples(T0 + 65_000, T0 + 65_000))
    (a,) = rows(engine, "fault")
    assert a["severity"] == "high" and a["details"]["severity_reason"] == "fleet override for P0420"


def test_fault_episodes_pure() -> None:
    j = {"source": "j1939:sa=0x00", "signal": "Vehicle.Diagnostics.ActiveFaults"}
    new = {**j, "fault": {"spn": 100, "fmi": 1, "oc": 3, "sa": 0}, "lamps": {"red_stop": "on"}}
    cleared = {**j, "fault": {"spn": 100, "fmi": 1, "sa": 0}}
    eps, skipped = episodes(
        [
            (1, "dtc_new", new, 1, 1),
            (2, "dtc_new", new, 2, 1),
            (3, "dtc_cleared", cleared, 2, 2),
            (4, "dtc_new", {"fault": None}, 2, 3),
        ]
    )
    assert skipped == 1
    assert [(e.ident, e.start_ms, e.end_ms, e.reports) for e in eps] == [("j1939:0:100:1", 1, 3, 2)]


def test_threshold_with_hysteresis_alerts_once_and_resolves(engine: Engine) -> None:
    v = Vehicle(engine)
    t = T0
    recs = v.samples(t, t + 60_000, ect=90)
    # hot for 90 s, wobbling inside the band (100..105) in between: one episode
    recs += v.samples(t + 65_000, t + 95_000, ect=107)
    recs += v.samples(t + 100_000, t + 120_000, ect=103)
    recs += v.samples(t + 125_000, t + 155_000, ect=108)
    recs += v.samples(t + 160_000, t + 200_000, ect=98)
    for i in range(0, len(recs), 7):
        v.send(recs[i : i + 7])
    (a,) = rows(engine, "threshold")
    assert a["severity"] == "high" and a["details"]["worst"] == 108
    assert a["started_event_ms"] == t + 65_000
    assert (a["status"], a["resolved_event_ms"]) == ("resolved", t + 160_000)
    # oil pressure 0 with the engine stopped is no alert (default rule: when running)
    v.send(v.samples(t + 300_000, t + 400_000, eop=0, rpm=0))
    assert len(rows(engine, "threshold")) == 1


def test_threshold_rules_per_fleet_replace_the_defaults(engine: Engine) -> None:
    with engine.begin() as conn:
        alert_store.create_rule(
            conn,
            FLEET,
            "threshold",
            "Coolant warm",
            {
                "signal": ECT,
                "op": "above",
                "value": 95,
                "clear": 92,
                "severity": "medium",
                "for_s": 0,
            },
            0,
        )
    v = Vehicle(engine)
    v.send(v.samples(T0, T0 + 20_000, ect=96))
    (a,) = rows(engine, "threshold")
    assert a["title"] == "Coolant warm: 96" and a["status"] == "open"


def test_threshold_episodes_pure() -> None:
    rule = ThresholdRule("k", "low oil", EOP, "below", 70, 100, "high", 0, True, "kPa")
    samples = [
        (1, {RPM: 800, EOP: 300}),
        (2, {RPM: 800, EOP: 60}),
        (3, {RPM: 800, EOP: 90}),  # in the band: still active
        (4, {RPM: 0, EOP: 0}),  # engine stopped: clears
        (5, {EOP: "bad"}),
        (6, {RPM: 800, EOP: 50}),
    ]
    got = [(e.start_ms, e.end_ms, e.worst) for e in th_episodes(rule, samples)]
    assert got == [(2, 4, 60), (6, None, 50)]


def test_long_idling_alerts_low(engine: Engine) -> None:
    v = Vehicle(engine)
    v.send(
        [
            v.rec(
                "event",
                T0,
                {
                    "name": "idle_end",
                    "start_ms": T0 - 2_400_000,
                    "duration_s": 2400.0,
                    "fuel_l": 1.2,
                },
            ),
            v.rec(
                "event",
                T0 + 10,
                {"name": "idle_end", "start_ms": T0 - 600_000, "duration_s": 600.0},
            ),
            v.rec("event", T0 + 20, {"name": "idle_end", "duration_s": "long"}),
        ]
    )
    (a,) = rows(engine, "idling")
    assert a["severity"] == "low" and a["details"]["duration_s"] == 2400.0
    assert a["title"] == "Idled 40 min (limit 30 min)"


def test_late_sample_moving_a_violation_start_keeps_one_alert(engine: Engine) -> None:
    v = Vehicle(engine)
    early = v.samples(T0, T0 + 20_000, ect=90)
    late_hot = v.samples(T0 + 25_000, T0 + 25_000, ect=110)  # delayed in the outbox
    hot = v.samples(T0 + 30_000, T0 + 90_000, ect=110)
    v.send(early + hot)
    (a,) = rows(engine, "threshold")
    assert a["started_event_ms"] == T0 + 30_000
    v.send(late_hot)
    (b,) = rows(engine, "threshold")
    assert b["id"] == a["id"] and b["started_event_ms"] == T0 + 25_000


def test_blip_whose_clear_is_still_on_its_way_never_alerts(engine: Engine) -> None:
    v = Vehicle(engine)
    first = [*v.samples(T0, T0 + 2000, every_ms=1000), v.dtc(T0 + 2500, "dtc_new", "P0171")]
    in_flight = [v.dtc(T0 + 4000, "dtc_cleared", "P0171"), *v.samples(T0 + 5000, T0 + 8000)]
    later = v.samples(T0 + 10_000, T0 + 60_000)  # the vehicle is already a minute further
    v.send(first)
    v.send(later)  # arrives before the batch holding the clear: a gap in the sequence
    assert rows(engine, "fault") == []
    v.send(in_flight)
    assert rows(engine, "fault") == []
    # a real fault behind a gap that never fills (samples evicted) alerts once the
    # vehicle's data is late_after_s (600 s) past the debounce
    v.send([v.dtc(T0 + 70_000, "dtc_new", "P0300")])
    v.seq += 5  # evicted samples
    v.send(v.samples(T0 + 100_000, T0 + 400_000, every_ms=60_000))
    assert rows(engine, "fault") == []
    v.send(v.samples(T0 + 700_000, T0 + 700_000))
    (a,) = rows(engine, "fault")
    assert a["key"].endswith("P0300") and a["started_event_ms"] == T0 + 70_000
