"""The alert model and its state machine: open -> acknowledged -> resolved (-> reopened).

An alert is identified by ``(fleet_id, kind, key)`` forever; calling ``upsert_alert`` again
with the same key never creates a second one, so processors can recompute windows freely.
Every lifecycle step is appended to ``alert_events`` (who, when, the alert as it was);
the open/reopen/escalate steps also enqueue webhook deliveries in the same transaction,
and MQTT / the live stream read ``alert_events``. Times: ``*_event_ms`` vehicle event
time, other ``*_ms`` wall clock, both UTC ms.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.db.tables_alerts import alert_events, alerts
from cloud.store import alerts as alert_store

SEVERITIES = ("low", "medium", "high", "critical")  # ascending
STATUSES = ("open", "acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")

OPENED = "alert.opened"
REOPENED = "alert.reopened"
ESCALATED = "alert.escalated"
ACKNOWLEDGED = "alert.acknowledged"
RESOLVED = "alert.resolved"
EVENT_TYPES = (OPENED, REOPENED, ESCALATED, ACKNOWLEDGED, RESOLVED)


class AlertError(ValueError):
    """A bad argument (unknown severity, kind too long, ...) or a forbidden transition."""


def rank(severity: str) -> int:
    """0 (low) .. 3 (critical); raises AlertError for anything else."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise AlertError(f"unknown severity {severity!r}; expected one of {SEVERITIES}") from None


def alert_dict(row: Any) -> dict[str, Any]:
    """The public JSON form of an alert row (used in API answers and notifications)."""
    m = row._mapping
    return {
        "id": m["id"],
        "fleet_id": m["fleet_id"],
        "device_id": m["device_id"],
        "kind": m["kind"],
        "key": m["key"],
        "severity": m["severity"],
        "status": m["status"],
        "title": m["title"],
        "details": m["details"],
        "started_event_ms": m["started_event_ms"],
        "last_seen_event_ms": m["last_seen_event_ms"],
        "opened_ms": m["opened_ms"],
        "updated_ms": m["updated_ms"],
        "late": bool(m["late"]),
        "occurrences": m["occurrences"],
        "acknowledged_by": m["acknowledged_by"],
        "acknowledged_ms": m["acknowledged_ms"],
        "resolved_by": m["resolved_by"],
        "resolved_ms": m["resolved_ms"],
        "resolved_event_ms": m["resolved_event_ms"],
    }


def _get(conn: sa.Connection, fleet_id: str, kind: str, key: str) -> Any:
    a = alerts
    return conn.execute(
        sa.select(a).where(a.c.fleet_id == fleet_id, a.c.kind == kind, a.c.key == key)
    ).first()


def _by_id(conn: sa.Connection, fleet_id: str, alert_id: int) -> Any:
    a = alerts
    return conn.execute(sa.select(a).where(a.c.fleet_id == fleet_id, a.c.id == alert_id)).first()


def _record(
    conn: sa.Connection, fleet_id: str, alert_id: int, type_: str, by: str, now_ms: int
) -> None:
    """Append a lifecycle event and enqueue its webhook deliveries (same transaction)."""
    from cloud.alerts import delivery  # delivery imports this module's helpers

    row = _by_id(conn, fleet_id, alert_id)
    payload = alert_dict(row)
    event_id = conn.execute(
        sa.insert(alert_events).values(
            fleet_id=fleet_id,
            alert_id=alert_id,
            type=type_,
            time_ms=now_ms,
            by=by[:128],
            payload=payload,
        )
    ).inserted_primary_key[0]
    delivery.enqueue(conn, fleet_id, int(event_id), type_, payload, now_ms)


def _check(kind: str, key: str, severity: str) -> None:
    rank(severity)
    if not 1 <= len(kind) <= 32:
        raise AlertError(f"alert kind must be 1-32 characters, got {kind!r}")
    if not 1 <= len(key) <= 255:
        raise AlertError(f"alert key must be 1-255 characters, got {len(key)}")


def upsert_alert(
    conn: sa.Connection,
    *,
    fleet_id: str,
    device_id: str | None,
    kind: str,
    key: str,
    severity: str,
    title: str,
    details: dict[str, Any],
    event_time_ms: int,
    now_ms: int,
) -> int:
    """Open (or keep open) the alert identified by (fleet_id, kind, key); returns its id.

    Again with the same key: an active alert gets the new details, title and last-seen
    time (a higher severity is an ``alert.escalated``); a resolved one stays resolved
    unless ``event_time_ms`` is after the event time it was resolved at, in which case
    it is reopened (``alert.reopened``). ``late`` is set when the event time is older than
    the fleet's ``late_after_s`` (default 600 s) at opening. Deliveries are enqueued once
    per lifecycle step, in this transaction.
    """
    _check(kind, key, severity)
    late_ms = int(alert_store.fleet_setting(conn, fleet_id, "late_after_s")) * 1000
    late = now_ms - event_time_ms > late_ms
    row = _get(conn, fleet_id, kind, key)
    a = alerts
    if row is None:
        alert_id = conn.execute(
            sa.insert(a).values(
                fleet_id=fleet_id,
                device_id=device_id,
                kind=kind,
                key=key,
                severity=severity,
                status="open",
                title=title,
                details=details,
                started_event_ms=event_time_ms,
                last_seen_event_ms=event_time_ms,
                opened_ms=now_ms,
                updated_ms=now_ms,
                late=late,
                occurrences=1,
            )
        ).inserted_primary_key[0]
        _record(conn, fleet_id, int(alert_id), OPENED, "system", now_ms)
        return int(alert_id)
    alert_id = int(row.id)
    if row.status == "resolved":
        resolved_at = row.resolved_event_ms if row.resolved_event_ms is not None else 0
        if event_time_ms <= resolved_at:
            # A recomputation of history: the resolution stands; late data may only
            # show that the problem began earlier than was known.
            if event_time_ms < row.started_event_ms and row.occurrences == 1:
                conn.execute(
                    a.update().where(a.c.id == alert_id).values(started_event_ms=event_time_ms)
                )
            return alert_id
        conn.execute(
            a.update()
            .where(a.c.id == alert_id)
            .values(
                status="open",
                severity=severity,
                title=title,
                details=details,
                started_event_ms=event_time_ms,
                last_seen_event_ms=event_time_ms,
                updated_ms=now_ms,
                late=late,
                occurrences=row.occurrences + 1,
                acknowledged_by=None,
                acknowledged_ms=None,
                resolved_by=None,
                resolved_ms=None,
                resolved_event_ms=None,
            )
        )
        _record(conn, fleet_id, alert_id, REOPENED, "system", now_ms)
        return alert_id
    escalated = rank(severity) > rank(row.severity)
    changes: dict[str, Any] = {
        "severity": severity,
        "title": title,
        "last_seen_event_ms": max(row.last_seen_event_ms, event_time_ms),
    }
    if event_time_ms < row.started_event_ms and row.occurrences == 1:
        # late data shows that the problem began earlier than was known
        changes["started_event_ms"] = event_time_ms
    if details != row.details:
        changes["details"] = details
    if any(getattr(row, k) != v for k, v in changes.items()):
        changes["updated_ms"] = now_ms
        conn.execute(a.update().where(a.c.id == alert_id).values(**changes))
    if escalated:
        _record(conn, fleet_id, alert_id, ESCALATED, "system", now_ms)
    return alert_id


def resolve_alert(
    conn: sa.Connection,
    *,
    fleet_id: str,
    kind: str,
    key: str,
    event_time_ms: int,
    now_ms: int,
    by: str = "system",
) -> bool:
    """Resolve the open alert with that key (kept as history); False when none is open."""
    row = _get(conn, fleet_id, kind, key)
    if row is None:
        return False
    if row.status not in ACTIVE:
        # Late data can show that a problem the system resolved ended earlier than known.
        resolved_at = row.resolved_event_ms
        if (
            resolved_at is not None
            and (row.resolved_by or "").startswith("system")
            and row.started_event_ms <= event_time_ms < resolved_at
        ):
            conn.execute(
                alerts.update().where(alerts.c.id == row.id).values(resolved_event_ms=event_time_ms)
            )
        return False
    _resolve(conn, row, by, event_time_ms, now_ms)
    return True


def _resolve(conn: sa.Connection, row: Any, by: str, event_time_ms: int, now_ms: int) -> None:
    a = alerts
    conn.execute(
        a.update()
        .where(a.c.id == row.id)
        .values(
            status="resolved",
            resolved_by=by[:128],
            resolved_ms=now_ms,
            resolved_event_ms=event_time_ms,
            updated_ms=now_ms,
        )
    )
    _record(conn, row.fleet_id, int(row.id), RESOLVED, by, now_ms)


def acknowledge(conn: sa.Connection, fleet_id: str, alert_id: int, by: str, now_ms: int) -> Any:
    """open -> acknowledged by ``by``; returns the row, None when there is no such alert.

    Acknowledging an acknowledged alert changes nothing; a resolved one raises AlertError.
    """
    row = _by_id(conn, fleet_id, alert_id)
    if row is None:
        return None
    if row.status == "resolved":
        raise AlertError(f"alert {alert_id} is resolved; it cannot be acknowledged")
    if row.status == "open":
        a = alerts
        conn.execute(
            a.update()
            .where(a.c.id == alert_id)
            .values(
                status="acknowledged",
                acknowledged_by=by[:128],
                acknowledged_ms=now_ms,
                updated_ms=now_ms,
            )
        )
        _record(conn, fleet_id, alert_id, ACKNOWLEDGED, by, now_ms)
    return _by_id(conn, fleet_id, alert_id)


def resolve_by_id(conn: sa.Connection, fleet_id: str, alert_id: int, by: str, now_ms: int) -> Any:
    """A person resolves an alert; returns the row, None when there is no such alert.

    The resolution's event time is ``now_ms``: the same problem seen again later reopens it,
    a recomputation of what was already known does not.
    """
    row = _by_id(conn, fleet_id, alert_id)
    if row is None:
        return None
    if row.status in ACTIVE:
        _resolve(conn, row, by, now_ms, now_ms)
    return _by_id(conn, fleet_id, alert_id)
