"""Route adherence for a device's dirty window: re-follow every route it touches.

For each active route assigned to the device whose time span overlaps the window (or whose
result is not final yet), the whole route is recomputed from the stored positions with the
pure engine (``cloud.adherence.follow``), so late, repeated or shuffled data gives exactly
the live result. The result's events and report replace the stored ones, and the alerts
it implies are raised / resolved through ``cloud.alerts``; an alert whose event vanished in
the recomputation is resolved ``by="recompute"``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa

from cloud.adherence import AdherenceResult, AlertSpec, Fix, Plan, desired_alerts, follow
from cloud.logs import kv
from cloud.store import plans as plan_store
from cloud.store import positions as pos_store

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def process(
    conn: sa.Connection, fleet_id: str, device_id: str, window_start_ms: int, window_end_ms: int
) -> None:
    routes = plan_store.routes_to_follow(conn, fleet_id, device_id, window_start_ms, window_end_ms)
    now = _now_ms()
    for route in routes:
        recompute_route(conn, fleet_id, route, now)


def fix_from_row(row: Any) -> Fix:
    """An engine ``Fix`` from a ``positions`` row (flags from the stored record)."""
    data = row.data if isinstance(row.data, dict) else {}
    raw_flags = data.get("flags")
    flags = tuple(f for f in raw_flags if isinstance(f, str)) if isinstance(raw_flags, list) else ()
    return Fix(row.time_ms, row.lat, row.lon, row.speed_mps, flags, row.valid)


def recompute_route(conn: sa.Connection, fleet_id: str, route: Any, now_ms: int) -> AdherenceResult:
    """Follow ``route`` (a ``routes`` row) over its stored positions; store and alert."""
    plan = Plan.from_json(route.plan)
    rows = pos_store.positions_between(
        conn, fleet_id, route.device_id, route.start_ms, route.end_ms
    )
    newest = plan_store.newest_position_ms(conn, fleet_id, route.device_id)
    # The event-time clock: how far the vehicle's data reaches, capped at the route's end.
    as_of = min(route.end_ms, newest) if newest is not None else route.start_ms
    result = follow(plan, [fix_from_row(r) for r in rows], as_of_ms=max(as_of, route.start_ms))
    old = plan_store.get_result(conn, fleet_id, route.route_id)
    old_alerts = {k: AlertSpec.from_json(v) for k, v in (old.alerts if old else {}).items()}
    new_alerts = desired_alerts(route.route_id, route.name, result)
    apply_alerts(conn, fleet_id, route.device_id, old_alerts, new_alerts, result.as_of_ms, now_ms)
    data = result.to_json()
    plan_store.save_result(
        conn,
        fleet_id,
        route.route_id,
        version=route.version,
        state=result.state,
        as_of_ms=result.as_of_ms,
        computed_ms=now_ms,
        final=result.state in ("completed", "ended"),
        report=data["report"],
        stops=data["stops"],
        eta={"progress_m": result.progress_m, "speed_mps": result.speed_mps, "stops": data["eta"]},
        alerts={k: v.to_json() for k, v in new_alerts.items()},
    )
    plan_store.replace_events(
        conn,
        fleet_id,
        route.route_id,
        [
            {
                "key": e.key,
                "time_ms": e.time_ms,
                "kind": e.kind,
                "stop_index": e.stop_index,
                "data": e.data,
            }
            for e in result.events
        ],
    )
    log.debug(
        kv(
            "route_followed",
            fleet=fleet_id,
            route=route.route_id,
            state=result.state,
            events=len(result.events),
            score=result.report["score"],
        )
    )
    return result


def apply_alerts(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    old: dict[str, AlertSpec],
    new: dict[str, AlertSpec],
    as_of_ms: int,
    now_ms: int,
) -> None:
    """Raise, resolve or withdraw alerts so they match ``new`` (``old`` = last result's)."""
    # Imported here: the alerts package is another module's and must not break import.
    from cloud.alerts import resolve_alert, upsert_alert

    def raise_(spec: AlertSpec, event_ms: int) -> None:
        upsert_alert(
            conn,
            fleet_id=fleet_id,
            device_id=device_id,
            kind=spec.kind,
            key=spec.key,
            severity=spec.severity,
            title=spec.title,
            details=spec.details,
            event_time_ms=event_ms,
            now_ms=now_ms,
        )

    def resolve(spec: AlertSpec, event_ms: int, by: str) -> None:
        resolve_alert(
            conn,
            fleet_id=fleet_id,
            kind=spec.kind,
            key=spec.key,
            event_time_ms=event_ms,
            now_ms=now_ms,
            by=by,
        )

    for key, spec in new.items():
        prev = old.get(key)
        if prev == spec:
            continue
        if prev is None:
            raise_(spec, spec.event_time_ms)
            if spec.resolved_ms is not None:
                resolve(spec, spec.resolved_ms, "system")
        elif spec.resolved_ms is None:
            # Reopened by a recomputation (e.g. the back-on-route fix vanished): the alert
            # model reopens only for evidence newer than the resolution, which as_of is.
            seen = spec.event_time_ms
            if prev.resolved_ms is not None:
                seen = max(as_of_ms, prev.resolved_ms + 1)
            raise_(spec, seen)
        elif prev.resolved_ms is None:
            raise_(spec, spec.event_time_ms)
            resolve(spec, spec.resolved_ms, "system")
    for key, prev in old.items():
        if key not in new and prev.resolved_ms is None:
            resolve(prev, as_of_ms, "recompute")


def cancel_alerts(conn: sa.Connection, fleet_id: str, route_id: str, now_ms: int) -> int:
    """Resolve every alert of the route that is still open (the route was cancelled)."""
    from cloud.alerts import resolve_alert

    old = plan_store.get_result(conn, fleet_id, route_id)
    if old is None:
        return 0
    specs = {k: AlertSpec.from_json(v) for k, v in old.alerts.items()}
    n = 0
    for key, spec in list(specs.items()):
        if spec.resolved_ms is None:
            n += resolve_alert(
                conn,
                fleet_id=fleet_id,
                kind=spec.kind,
                key=spec.key,
                event_time_ms=max(old.as_of_ms, spec.event_time_ms),
                now_ms=now_ms,
                by="cancel",
            )
            specs[key] = AlertSpec(**{**spec.to_json(), "resolved_ms": old.as_of_ms})
    plan_store.set_result_alerts(
        conn, fleet_id, route_id, {k: v.to_json() for k, v in specs.items()}
    )
    return n
