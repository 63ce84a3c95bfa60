"""Alert queries, per-fleet alert rules and settings, webhooks and their delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables_alerts import (
    alert_events,
    alert_rules,
    alerts,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)

# Per-fleet settings (alert_rules kind "setting", config {"value": ...}) and their defaults.
SETTING_DEFAULTS: dict[str, float] = {
    "late_after_s": 600.0,  # an alert whose event time is older than this at opening is late
    "fault_debounce_s": 10.0,  # a fault must stay active this long (event time) to alert
    "idle_alert_s": 1800.0,  # idling longer than this raises an "idling" alert
}
RULE_KINDS = ("threshold", "severity_override", "setting")


def fleet_setting(conn: sa.Connection, fleet_id: str, name: str) -> float:
    """A fleet's setting, or its default (``SETTING_DEFAULTS``)."""
    r = alert_rules
    row = conn.execute(
        sa.select(r.c.config)
        .where(r.c.fleet_id == fleet_id, r.c.kind == "setting", r.c.name == name, r.c.enabled)
        .order_by(r.c.id.desc())
        .limit(1)
    ).first()
    if row is not None and isinstance(row.config, dict):
        value = row.config.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return SETTING_DEFAULTS[name]


def rules(conn: sa.Connection, fleet_id: str, kind: str | None = None) -> list[sa.Row[Any]]:
    """The fleet's enabled rules (optionally of one kind), oldest first."""
    r = alert_rules
    q = sa.select(r).where(r.c.fleet_id == fleet_id, r.c.enabled)
    if kind is not None:
        q = q.where(r.c.kind == kind)
    return list(conn.execute(q.order_by(r.c.id)))


def all_rules(conn: sa.Connection, fleet_id: str) -> list[sa.Row[Any]]:
    r = alert_rules
    return list(conn.execute(sa.select(r).where(r.c.fleet_id == fleet_id).order_by(r.c.id)))


def get_rule(conn: sa.Connection, fleet_id: str, rule_id: int) -> sa.Row[Any] | None:
    r = alert_rules
    return conn.execute(sa.select(r).where(r.c.fleet_id == fleet_id, r.c.id == rule_id)).first()


def create_rule(
    conn: sa.Connection,
    fleet_id: str,
    kind: str,
    name: str,
    config: dict[str, Any],
    now_ms: int,
    enabled: bool = True,
) -> int:
    return int(
        conn.execute(
            sa.insert(alert_rules).values(
                fleet_id=fleet_id,
                kind=kind,
                name=name,
                config=config,
                enabled=enabled,
                created_ms=now_ms,
            )
        ).inserted_primary_key[0]
    )


def update_rule(
    conn: sa.Connection, fleet_id: str, rule_id: int, **values: Any
) -> sa.Row[Any] | None:
    r = alert_rules
    if values:
        conn.execute(r.update().where(r.c.fleet_id == fleet_id, r.c.id == rule_id).values(**values))
    return get_rule(conn, fleet_id, rule_id)


def delete_rule(conn: sa.Connection, fleet_id: str, rule_id: int) -> bool:
    r = alert_rules
    return bool(
        conn.execute(r.delete().where(r.c.fleet_id == fleet_id, r.c.id == rule_id)).rowcount
    )


def severity_overrides(conn: sa.Connection, fleet_id: str) -> dict[str, str]:
    """Code (``P0301``, ``SPN980/FMI9``, ``SPN980``) -> severity chosen by the fleet."""
    out: dict[str, str] = {}
    for row in rules(conn, fleet_id, "severity_override"):
        sev = row.config.get("severity") if isinstance(row.config, dict) else None
        if isinstance(sev, str):
            out[row.name.upper().replace(" ", "")] = sev
    return out


# ---------------------------------------------------------------- alerts
def alerts_page(
    conn: sa.Connection,
    fleet_id: str,
    *,
    status: Sequence[str] = (),
    severity: Sequence[str] = (),
    kind: Sequence[str] = (),
    device_id: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[sa.Row[Any]]:
    """Alerts newest first (by id); ``start_ms``/``end_ms`` bound the event time it began."""
    a = alerts
    q = sa.select(a).where(a.c.fleet_id == fleet_id)
    if status:
        q = q.where(a.c.status.in_(list(status)))
    if severity:
        q = q.where(a.c.severity.in_(list(severity)))
    if kind:
        q = q.where(a.c.kind.in_(list(kind)))
    if device_id is not None:
        q = q.where(a.c.device_id == device_id)
    if start_ms is not None:
        q = q.where(a.c.started_event_ms >= start_ms)
    if end_ms is not None:
        q = q.where(a.c.started_event_ms <= end_ms)
    if before_id is not None:
        q = q.where(a.c.id < before_id)
    return list(conn.execute(q.order_by(a.c.id.desc()).limit(limit)))


def get_alert(conn: sa.Connection, fleet_id: str, alert_id: int) -> sa.Row[Any] | None:
    a = alerts
    return conn.execute(sa.select(a).where(a.c.fleet_id == fleet_id, a.c.id == alert_id)).first()


def active_alerts(
    conn: sa.Connection, fleet_id: str, device_id: str, kind: str, key_prefix: str = ""
) -> list[sa.Row[Any]]:
    """Open or acknowledged alerts of a device and kind whose key starts with ``key_prefix``."""
    a = alerts
    q = sa.select(a).where(
        a.c.fleet_id == fleet_id,
        a.c.device_id == device_id,
        a.c.kind == kind,
        a.c.status.in_(["open", "acknowledged"]),
    )
    if key_prefix:
        q = q.where(a.c.key.startswith(key_prefix, autoescape=True))
    return list(conn.execute(q.order_by(a.c.id)))


def alert_history(conn: sa.Connection, fleet_id: str, alert_id: int) -> list[sa.Row[Any]]:
    e = alert_events
    return list(
        conn.execute(
            sa.select(e.c.id, e.c.type, e.c.time_ms, e.c.by)
            .where(e.c.fleet_id == fleet_id, e.c.alert_id == alert_id)
            .order_by(e.c.id)
        )
    )


def events_after(
    conn: sa.Connection, fleet_id: str, after_id: int, limit: int = 500
) -> list[sa.Row[Any]]:
    """Alert lifecycle events of a fleet with id > ``after_id`` (the live stream's feed)."""
    e = alert_events
    return list(
        conn.execute(
            sa.select(e)
            .where(e.c.fleet_id == fleet_id, e.c.id > after_id)
            .order_by(e.c.id)
            .limit(limit)
        )
    )


def last_event_id(conn: sa.Connection, fleet_id: str) -> int:
    e = alert_events
    return int(
        conn.execute(sa.select(sa.func.max(e.c.id)).where(e.c.fleet_id == fleet_id)).scalar() or 0
    )


# ---------------------------------------------------------------- webhooks
def create_webhook(
    conn: sa.Connection,
    fleet_id: str,
    *,
    url: str,
    secret: str,
    events: list[str],
    min_severity: str,
    enabled: bool,
    description: str,
    now_ms: int,
) -> int:
    return int(
        conn.execute(
            sa.insert(webhooks).values(
                fleet_id=fleet_id,
                url=url,
                secret=secret,
                events=events,
                min_severity=min_severity,
                enabled=enabled,
                description=description,
                created_ms=now_ms,
            )
        ).inserted_primary_key[0]
    )


def list_webhooks(conn: sa.Connection, fleet_id: str) -> list[sa.Row[Any]]:
    w = webhooks
    return list(conn.execute(sa.select(w).where(w.c.fleet_id == fleet_id).order_by(w.c.id)))


def enabled_webhooks(conn: sa.Connection, fleet_id: str) -> list[sa.Row[Any]]:
    w = webhooks
    return list(
        conn.execute(sa.select(w).where(w.c.fleet_id == fleet_id, w.c.enabled).order_by(w.c.id))
    )


def get_webhook(conn: sa.Connection, fleet_id: str, webhook_id: int) -> sa.Row[Any] | None:
    w = webhooks
    return conn.execute(sa.select(w).where(w.c.fleet_id == fleet_id, w.c.id == webhook_id)).first()


def update_webhook(
    conn: sa.Connection, fleet_id: str, webhook_id: int, **values: Any
) -> sa.Row[Any] | None:
    w = webhooks
    if values:
        conn.execute(
            w.update().where(w.c.fleet_id == fleet_id, w.c.id == webhook_id).values(**values)
        )
    return get_webhook(conn, fleet_id, webhook_id)


def delete_webhook(conn: sa.Connection, fleet_id: str, webhook_id: int) -> bool:
    """Delete a webhook; its pending deliveries are dropped, its delivery log kept."""
    w, d = webhooks, webhook_deliveries
    gone = conn.execute(w.delete().where(w.c.fleet_id == fleet_id, w.c.id == webhook_id)).rowcount
    conn.execute(
        d.update()
        .where(d.c.fleet_id == fleet_id, d.c.webhook_id == webhook_id, d.c.status == "pending")
        .values(status="cancelled")
    )
    return bool(gone)


def deliveries_page(
    conn: sa.Connection,
    fleet_id: str,
    webhook_id: int,
    *,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[sa.Row[Any]]:
    """A webhook's deliveries, newest first."""
    d = webhook_deliveries
    q = sa.select(d).where(d.c.fleet_id == fleet_id, d.c.webhook_id == webhook_id)
    if status is not None:
        q = q.where(d.c.status == status)
    if before_id is not None:
        q = q.where(d.c.id < before_id)
    return list(conn.execute(q.order_by(d.c.id.desc()).limit(limit)))


def attempts_of(
    conn: sa.Connection, fleet_id: str, delivery_pks: Sequence[int]
) -> list[sa.Row[Any]]:
    t = webhook_attempts
    if not delivery_pks:
        return []
    return list(
        conn.execute(
            sa.select(t)
            .where(t.c.fleet_id == fleet_id, t.c.delivery_pk.in_(list(delivery_pks)))
            .order_by(t.c.delivery_pk, t.c.attempt)
        )
    )
