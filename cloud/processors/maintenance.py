"""Fault alerts, threshold rules, idling alerts and preventive-maintenance status from vehicle data.

``process(conn, fleet_id, device_id, start_ms, end_ms)`` recomputes from stored records
(see cloud/processors/__init__.py) and drives the alerts through ``upsert_alert`` /
``resolve_alert``, which never open one problem twice. Everything is decided by event
time: a fault is debounced against the newest event time the device has sent, never
against the wall clock, so late data gives the same alerts as live data (marked late).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from cloud.alerts import faults as fault_mod
from cloud.alerts import schedules as sched
from cloud.alerts import severity as sev
from cloud.alerts import thresholds as thr
from cloud.alerts.model import SEVERITIES, upsert_alert
from cloud.alerts.model import resolve_alert as _resolve
from cloud.alerts.obd_codes import describe, describe_j1939
from cloud.db.tables import records
from cloud.logs import kv
from cloud.store import alerts as alert_store
from cloud.store import events as ev_store
from cloud.store import maintenance as mstore
from cloud.store import records as rec_store

log = logging.getLogger(__name__)

MIL = "Vehicle.OBD.Status.IsMILOn"
MIL_LOOKAROUND_MS = 60_000  # a mode 01 MIL reading this close to the fault describes it


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def process(conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int) -> None:
    now_ms = _now_ms()
    progress = mstore.newest_record_ms(conn, fleet_id, device_id)
    if progress is None:
        return
    process_faults(conn, fleet_id, device_id, progress, now_ms)
    process_thresholds(conn, fleet_id, device_id, start_ms, end_ms, now_ms)
    process_idling(conn, fleet_id, device_id, start_ms, end_ms, now_ms)
    process_schedules(conn, fleet_id, device_id, progress, now_ms, start_ms)


# ---------------------------------------------------------------- faults
def process_faults(
    conn: sa.Connection, fleet_id: str, device_id: str, progress_ms: int, now_ms: int
) -> None:
    rows = ev_store.events_page(
        conn, fleet_id, device_id, None, None, limit=1_000_000, names=fault_mod.FAULT_EVENTS
    )
    if not rows:
        return
    eps, skipped = fault_mod.episodes(
        (r.time_ms, r.name, r.data if isinstance(r.data, dict) else {}, r.boot_id, r.seq)
        for r in rows
    )
    if skipped:
        log.warning(kv("fault_events_skipped", fleet=fleet_id, device=device_id, count=skipped))
    debounce_ms = int(alert_store.fleet_setting(conn, fleet_id, "fault_debounce_s") * 1000)
    grace_ms = int(alert_store.fleet_setting(conn, fleet_id, "late_after_s") * 1000)
    overrides = alert_store.severity_overrides(conn, fleet_id)
    for ep in eps:
        if not _confirmed(conn, fleet_id, device_id, ep, debounce_ms, progress_ms, grace_ms):
            continue  # a blip shorter than the debounce, or not confirmed yet
        key = f"{device_id}:{ep.ident}"
        row = _alert_row(conn, fleet_id, "fault", key)
        if row is not None:
            if row.status == "resolved" and ep.start_ms <= (row.resolved_event_ms or 0):
                continue  # this episode is already history
            if (
                row.status != "resolved"
                and ep.end_ms is not None
                and ep.end_ms < row.started_event_ms
            ):
                continue  # an older episode than the open alert's
        severity, title, details = _fault_alert(conn, fleet_id, device_id, ep, overrides)
        upsert_alert(
            conn,
            fleet_id=fleet_id,
            device_id=device_id,
            kind="fault",
            key=key,
            severity=severity,
            title=title,
            details=details,
            event_time_ms=ep.start_ms,
            now_ms=now_ms,
        )
        if ep.end_ms is not None:
            _resolve(
                conn,
                fleet_id=fleet_id,
                kind="fault",
                key=key,
                event_time_ms=ep.end_ms,
                now_ms=now_ms,
                by="system: fault cleared",
            )


CONFIRM_SCAN = 5000  # records read at most to confirm one fault's debounce


def _confirmed(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    ep: fault_mod.FaultEpisode,
    debounce_ms: int,
    progress_ms: int,
    grace_ms: int,
) -> bool:
    """Whether the fault is known to have stayed active ``debounce_ms`` of event time.

    Ended: by its duration. Open: re-reported (a later ignition cycle) late enough, or
    the records after its first report arrived without a gap (so no ``dtc_cleared`` can
    be missing) up to a record that late. A batch still on its way never lets a blip
    through as a fault. A gap that stays (samples evicted from a full outbox; fault
    events never are) stops blocking once the vehicle's data is ``grace_ms`` past it.
    """
    if ep.end_ms is not None:
        return ep.end_ms - ep.start_ms >= debounce_ms
    due = ep.start_ms + debounce_ms
    if ep.last_report_ms >= due or progress_ms >= due + grace_ms:
        return True
    boot, seq = ep.first_pos
    t = records
    rows = conn.execute(
        sa.select(t.c.seq, t.c.time_ms)
        .where(
            t.c.fleet_id == fleet_id,
            t.c.device_id == device_id,
            t.c.boot_id == boot,
            t.c.seq > seq,
            t.c.seq <= seq + CONFIRM_SCAN,
        )
        .order_by(t.c.seq)
    )
    expected = seq + 1
    for r in rows:
        if r.seq != expected:
            return False  # a gap: what is missing might clear the fault
        if r.time_ms >= due:
            return True
        expected += 1
    return False


def _alert_row(conn: sa.Connection, fleet_id: str, kind: str, key: str) -> Any:
    from cloud.db.tables_alerts import alerts as a

    return conn.execute(
        sa.select(a).where(a.c.fleet_id == fleet_id, a.c.kind == kind, a.c.key == key)
    ).first()


def _fault_alert(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    ep: fault_mod.FaultEpisode,
    overrides: Mapping[str, str],
) -> tuple[str, str, dict[str, Any]]:
    fault = ep.latest.get("fault") or {}
    snapshot = ep.first.get("snapshot") if isinstance(ep.first.get("snapshot"), dict) else {}
    details: dict[str, Any] = {
        "source": ep.latest.get("source"),
        "signal": ep.latest.get("signal"),
        "first_event_ms": ep.start_ms,
        "cleared_event_ms": ep.end_ms,
        "reports": ep.reports,
        "snapshot": snapshot,
    }
    if "spn" in fault:
        spn, fmi = int(fault["spn"]), int(fault["fmi"])
        best = ("low", "no lamp lit")
        for lamps in ep.lamps_seen or [{}]:
            cand = sev.fault_severity(spn=spn, lamps=lamps)
            if SEVERITIES.index(cand[0]) > SEVERITIES.index(best[0]):
                best = cand
        codes = [f"SPN{spn}/FMI{fmi}", f"SPN{spn}"]
        severity, reason = sev.override(overrides, *best, codes)
        title = describe_j1939(spn, fmi)
        details.update(
            protocol="j1939",
            spn=spn,
            fmi=fmi,
            sa=fault.get("sa"),
            occurrence_count=fault.get("oc"),
            lamps=ep.lamps_seen[-1] if ep.lamps_seen else None,
            code=f"SPN {spn} FMI {fmi}",
        )
    else:
        code = str(fault.get("code", "")).upper()
        mil_on = _mil_near(conn, fleet_id, device_id, ep.start_ms)
        mil = (fault.get("mil") or ep.latest.get("mil")) if isinstance(fault, dict) else None
        lamps = {"mil": mil} if isinstance(mil, str) else None
        severity, reason = sev.fault_severity(
            code=code, lamps=lamps, kinds=frozenset(ep.kinds), mil_on=mil_on
        )
        severity, reason = sev.override(overrides, severity, reason, [code])
        title = f"{code}: {describe(code)}"
        details.update(
            protocol="obd2",
            code=code,
            description=describe(code),
            kinds=sorted(ep.kinds),
            mil_on=mil_on,
        )
    details["severity_reason"] = reason
    if severity not in SEVERITIES:  # a bad override must not hide the fault
        severity, details["severity_reason"] = "medium", f"invalid override {severity!r}"
    return severity, title, details


def _mil_near(conn: sa.Connection, fleet_id: str, device_id: str, time_ms: int) -> bool | None:
    rows = rec_store.records_between(
        conn,
        fleet_id,
        device_id,
        "engine",
        time_ms - MIL_LOOKAROUND_MS,
        time_ms + MIL_LOOKAROUND_MS,
    )
    best: tuple[int, bool] | None = None
    for r in rows:
        v = r.data.get(MIL) if isinstance(r.data, dict) else None
        if isinstance(v, bool) and (best is None or abs(r.time_ms - time_ms) < best[0]):
            best = (abs(r.time_ms - time_ms), v)
    return best[1] if best else None


# ---------------------------------------------------------------- thresholds
def fleet_threshold_rules(conn: sa.Connection, fleet_id: str) -> list[thr.ThresholdRule]:
    """The fleet's threshold rules (``DEFAULT_RULES`` when it has none); bad ones logged, skipped."""
    rows = alert_store.rules(conn, fleet_id, "threshold")
    if not rows:
        return list(thr.DEFAULT_RULES)
    out = []
    for row in rows:
        try:
            out.append(thr.parse_rule(f"r{row.id}", row.name, row.config or {}))
        except ValueError as exc:
            log.warning(kv("threshold_rule_skipped", fleet=fleet_id, rule=row.id, error=str(exc)))
    return out


# How far a window's engine-speed samples can reach the samples of a rule's signal.
SIGNAL_MARGIN_MS = 10 * 60 * 1000


def process_thresholds(
    conn: sa.Connection, fleet_id: str, device_id: str, ws: int, we: int, now_ms: int
) -> None:
    for rule in fleet_threshold_rules(conn, fleet_id):
        names = (rule.signal, thr.RPM) if rule.when_running else (rule.signal,)
        # A rule's episodes are made of samples of its own signal (engine speed only says
        # whether those count): with none in or near the window, nothing can change, and
        # the searches below would scan every sample in vain.
        margin = SIGNAL_MARGIN_MS if rule.when_running else 0
        if not mstore.any_reading(
            conn, fleet_id, device_id, (rule.signal,), ws - margin, we + margin
        ):
            continue
        # Start at the last sample before the window that clears the rule (the state is
        # surely "inactive" there) or, with none, at the first sample ever; stop at the
        # first clearing sample after it, or where the signal's samples end.
        lo = _clear_sample(conn, fleet_id, device_id, rule, ws, before=True)
        if lo is None:
            lo = mstore.has_reading(conn, fleet_id, device_id, rule.signal, before_ms=ws) or ws
        hi = _clear_sample(conn, fleet_id, device_id, rule, we, before=False)
        if hi is None:
            hi = mstore.has_reading(conn, fleet_id, device_id, rule.signal, after_ms=we) or we
        rows = mstore.engine_samples_with(conn, fleet_id, device_id, names, lo, hi)
        samples = ((r.time_ms, r.data) for r in rows if isinstance(r.data, dict))
        for ep in thr.episodes(rule, samples):
            if ep.lasted_ms() < rule.for_s * 1000:
                continue
            # Late data can move a violation's start earlier: keep the alert already
            # opened for it rather than opening a second one under the new start.
            prefix = f"{device_id}:{rule.key}:"
            known = _covering_alert(conn, fleet_id, prefix, ep.start_ms, ep.end_ms)
            key = known if known is not None else f"{prefix}{ep.start_ms}"
            word = "above" if rule.op == "above" else "below"
            upsert_alert(
                conn,
                fleet_id=fleet_id,
                device_id=device_id,
                kind="threshold",
                key=key,
                severity=rule.severity,
                title=f"{rule.name}: {ep.worst:g} {rule.unit}".rstrip(),
                details={
                    "rule": rule.key,
                    "signal": rule.signal,
                    "condition": f"{word} {rule.value:g}, clears at {rule.clear:g}",
                    "worst": ep.worst,
                    "unit": rule.unit,
                    "start_event_ms": ep.start_ms,
                    "end_event_ms": ep.end_ms,
                },
                event_time_ms=ep.start_ms,
                now_ms=now_ms,
            )
            if ep.end_ms is not None:
                _resolve(
                    conn,
                    fleet_id=fleet_id,
                    kind="threshold",
                    key=key,
                    event_time_ms=ep.end_ms,
                    now_ms=now_ms,
                    by="system: back to normal",
                )


def _covering_alert(
    conn: sa.Connection, fleet_id: str, prefix: str, start_ms: int, end_ms: int | None
) -> str | None:
    """Key of the earliest threshold alert of ``prefix`` that began inside [start, end)."""
    from cloud.db.tables_alerts import alerts as a

    q = sa.select(a.c.key).where(
        a.c.fleet_id == fleet_id,
        a.c.kind == "threshold",
        a.c.key.startswith(prefix, autoescape=True),
        a.c.started_event_ms >= start_ms,
    )
    if end_ms is not None:
        q = q.where(a.c.started_event_ms < end_ms)
    return conn.execute(q.order_by(a.c.started_event_ms).limit(1)).scalar()


def _clear_sample(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    rule: thr.ThresholdRule,
    time_ms: int,
    *,
    before: bool,
) -> int | None:
    """Time of the nearest sample before (after) ``time_ms`` whose value clears the rule.

    At such a sample the rule is certainly inactive, whatever came earlier, so the
    recomputation can start (stop) there.
    """
    t = records
    value = t.c.data[rule.signal].as_float()
    cond = value <= rule.clear if rule.op == "above" else value >= rule.clear
    q = sa.select(t.c.time_ms).where(
        t.c.fleet_id == fleet_id,
        t.c.device_id == device_id,
        t.c.kind == "engine",
        value.is_not(None),
        cond,
    )
    if before:
        q = q.where(t.c.time_ms < time_ms).order_by(t.c.time_ms.desc())
    else:
        q = q.where(t.c.time_ms > time_ms).order_by(t.c.time_ms)
    return conn.execute(q.limit(1)).scalar()


# ---------------------------------------------------------------- idling
def process_idling(
    conn: sa.Connection, fleet_id: str, device_id: str, ws: int, we: int, now_ms: int
) -> None:
    limit_s = alert_store.fleet_setting(conn, fleet_id, "idle_alert_s")
    for ev in ev_store.events_page(
        conn, fleet_id, device_id, ws, we, 1_000_000, names=("idle_end",)
    ):
        data = ev.data if isinstance(ev.data, dict) else {}
        duration = data.get("duration_s")
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            continue
        if duration <= limit_s:
            continue
        start = data.get("start_ms")
        start_ms = start if isinstance(start, int) else ev.time_ms - int(duration * 1000)
        upsert_alert(
            conn,
            fleet_id=fleet_id,
            device_id=device_id,
            kind="idling",
            key=f"{device_id}:{start_ms}",
            severity="low",
            title=f"Idled {duration / 60:.0f} min (limit {limit_s / 60:.0f} min)",
            details={
                "start_event_ms": start_ms,
                "end_event_ms": ev.time_ms,
                "duration_s": duration,
                "fuel_l": data.get("fuel_l"),
                "limit_s": limit_s,
            },
            event_time_ms=ev.time_ms,
            now_ms=now_ms,
        )


# ---------------------------------------------------------------- maintenance
def schedule_of(row: Any) -> sched.Schedule:
    return sched.Schedule(
        id=int(row.id),
        name=row.name,
        every_km=row.every_km,
        every_h=row.every_h,
        every_days=row.every_days,
        due_soon_km=row.due_soon_km,
        due_soon_h=row.due_soon_h,
        due_soon_days=row.due_soon_days,
    )


def baseline(
    conn: sa.Connection, fleet_id: str, device_id: str, row: Any
) -> tuple[sched.Baseline, str]:
    """The current interval's start and a marker naming it (``svc<id>`` or ``initial``).

    Never serviced: the due points are the first multiples of the intervals above the
    vehicle's first readings (e.g. every 10 000 km from 12 345 km: due at 20 000 km);
    the calendar counts from the schedule's creation.
    """
    svc = mstore.last_service(conn, fleet_id, device_id, row.id)
    if svc is not None:
        odo = svc.odometer_km
        hours = svc.engine_h
        if odo is None:
            r = mstore.reading_at_or_before(conn, fleet_id, device_id, mstore.ODOMETER, svc.done_ms)
            odo = r[1] if r else None
        if hours is None:
            r = mstore.reading_at_or_before(
                conn, fleet_id, device_id, mstore.ENGINE_HOURS, svc.done_ms
            )
            hours = r[1] if r else None
        return sched.Baseline(svc.done_ms, odo, hours), f"svc{svc.id}"
    first_odo = mstore.first_reading(conn, fleet_id, device_id, mstore.ODOMETER, 0)
    first_h = mstore.first_reading(conn, fleet_id, device_id, mstore.ENGINE_HOURS, 0)
    odo = _floor(first_odo[1], row.every_km) if first_odo else None
    hours = _floor(first_h[1], row.every_h) if first_h else None
    return sched.Baseline(row.created_ms, odo, hours), "initial"


def _floor(value: float, every: float | None) -> float | None:
    if not every:
        return None
    return (value // every) * every


def process_schedules(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    progress_ms: int,
    now_ms: int,
    window_start_ms: int | None = None,
) -> None:
    """Open / escalate the maintenance alert of each schedule of the device.

    A crossing already known from before ``window_start_ms`` cannot move (new data is
    later), so it is reused instead of scanned for again.
    """
    for row in mstore.schedules_for(conn, fleet_id, device_id):
        s = schedule_of(row)
        base, marker = baseline(conn, fleet_id, device_id, row)
        since = 0 if marker == "initial" else base.time_ms
        due = sched.due_points(s, base)
        key = f"{device_id}:s{s.id}:{marker}"
        known = _alert_row(conn, fleet_id, "maintenance", key)
        details = known.details if known is not None and isinstance(known.details, dict) else {}

        scan = (conn, fleet_id, device_id, since, progress_ms, details, window_start_ms)
        soon_at = _crossing(*scan, "due_soon", due.soon_km, due.soon_h, due.soon_ms)
        over_at = _crossing(*scan, "overdue", due.due_km, due.due_h, due.due_ms)
        if soon_at is None and over_at is None:
            continue
        overdue = over_at is not None
        first = min(t[0] for t in (soon_at, over_at) if t is not None)
        upsert_alert(
            conn,
            fleet_id=fleet_id,
            device_id=device_id,
            kind="maintenance",
            key=key,
            severity="medium" if overdue else "low",
            title=f"{s.name} {'overdue' if overdue else 'due soon'}",
            details={
                "schedule_id": s.id,
                "schedule": s.name,
                "status": sched.OVERDUE if overdue else sched.DUE_SOON,
                "due_soon_event_ms": soon_at[0] if soon_at else None,
                "due_soon_by": soon_at[1] if soon_at else None,
                "due_soon_at": soon_at[2] if soon_at else None,
                "overdue_event_ms": over_at[0] if over_at else None,
                "overdue_by": over_at[1] if over_at else None,
                "overdue_at": over_at[2] if over_at else None,
                "due_km": due.due_km,
                "due_engine_h": due.due_h,
                "due_ms": due.due_ms,
                "baseline": marker,
            },
            event_time_ms=first,
            now_ms=now_ms,
        )


def _crossing(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    since_ms: int,
    progress_ms: int,
    details: dict[str, Any],
    window_start_ms: int | None,
    level: str,
    km: float | None,
    hours: float | None,
    at_ms: int | None,
) -> Any:
    """The known crossing of ``level`` when it lies before the window, else a fresh scan."""
    t = details.get(f"{level}_event_ms")
    if isinstance(t, int) and window_start_ms is not None and t < window_start_ms:
        return (t, details.get(f"{level}_by"), details.get(f"{level}_at"))
    return _first_cross(conn, fleet_id, device_id, since_ms, km, hours, at_ms, progress_ms)


def _first_cross(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    since_ms: int,
    km: float | None,
    hours: float | None,
    at_ms: int | None,
    progress_ms: int,
) -> tuple[int, str, float] | None:
    """(event time, measure, value there) of the earliest crossing of any of the due points."""
    found: list[tuple[int, str, float]] = []
    for signal, measure, threshold in (
        (mstore.ODOMETER, "odometer_km", km),
        (mstore.ENGINE_HOURS, "engine_h", hours),
    ):
        if threshold is None:
            continue
        # Counters only grow: when the newest reading is below, no older one is above,
        # and the scan (possibly over months of samples) is skipped.
        newest = mstore.reading_at_or_before(conn, fleet_id, device_id, signal)
        if newest is None or newest[1] < threshold:
            continue
        c = mstore.first_crossing(conn, fleet_id, device_id, signal, threshold, since_ms)
        if c:
            found.append((c[0], measure, c[1]))
    if at_ms is not None and progress_ms >= at_ms:
        found.append((at_ms, "calendar_ms", float(at_ms)))
    return min(found) if found else None
