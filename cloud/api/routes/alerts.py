"""Alerts (list, acknowledge, resolve, live stream), webhooks, alert rules and maintenance."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, HttpUrl

from cloud.alerts import delivery
from cloud.alerts import schedules as sched
from cloud.alerts import stream as sse
from cloud.alerts.model import (
    EVENT_TYPES,
    SEVERITIES,
    STATUSES,
    AlertError,
    acknowledge,
    alert_dict,
    resolve_alert,
    resolve_by_id,
)
from cloud.alerts.thresholds import parse_rule
from cloud.api.deps import (
    Conn,
    Cursor,
    FleetId,
    Range,
    Vehicle,
    decode_cursor,
    encode_cursor,
    parse_time,
)
from cloud.api.schemas import Page
from cloud.processors import maintenance as mproc
from cloud.store import alerts as alert_store
from cloud.store import maintenance as mstore

router = APIRouter(prefix="/v1", tags=["alerts"])

Severity = Literal["critical", "high", "medium", "low"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _split(values: list[str] | None, allowed: tuple[str, ...] | None, name: str) -> list[str]:
    out = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    if allowed is not None:
        bad = [v for v in out if v not in allowed]
        if bad:
            raise HTTPException(
                422, f"query parameter {name!r}: {bad[0]!r} is not one of {allowed}"
            )
    return out


# ---------------------------------------------------------------- alerts
class AlertPublic(BaseModel):
    id: int
    fleet_id: str
    device_id: str | None
    kind: str = Field(description="fault, threshold, maintenance, idling, route_deviation, ...")
    key: str
    severity: str = Field(description="critical / high / medium / low")
    status: str = Field(description="open / acknowledged / resolved")
    title: str
    details: dict[str, Any]
    started_event_ms: int = Field(description="vehicle event time the problem began (UTC ms)")
    last_seen_event_ms: int
    opened_ms: int = Field(description="when the cloud opened the alert (UTC ms)")
    updated_ms: int
    late: bool = Field(description="the data arrived long after the event (vehicle was offline)")
    occurrences: int
    acknowledged_by: str | None
    acknowledged_ms: int | None
    resolved_by: str | None
    resolved_ms: int | None
    resolved_event_ms: int | None


class HistoryItem(BaseModel):
    event_id: int
    type: str
    time_ms: int
    by: str


class AlertDetail(AlertPublic):
    history: list[HistoryItem]


class Actor(BaseModel):
    by: str = Field(min_length=1, max_length=128, description="who does it (user name or email)")


@router.get("/alerts", response_model=Page[AlertPublic], summary="Alerts, newest first, filtered")
def list_alerts(
    conn: Conn,
    fleet: FleetId,
    window: Range,
    status: Annotated[list[str] | None, Query(description="open, acknowledged, resolved")] = None,
    severity: Annotated[list[str] | None, Query(description="critical, high, medium, low")] = None,
    kind: Annotated[
        list[str] | None, Query(description="fault, threshold, maintenance, ...")
    ] = None,
    vehicle: Annotated[str | None, Query(description="device id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[AlertPublic]:
    """Filters combine (AND); a list filter takes repeated or comma-separated values.
    ``from``/``to`` bound the event time the problem began."""
    after = decode_cursor(cursor, 1)
    rows = alert_store.alerts_page(
        conn,
        fleet,
        status=_split(status, STATUSES, "status"),
        severity=_split(severity, SEVERITIES, "severity"),
        kind=_split(kind, None, "kind"),
        device_id=vehicle,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        before_id=after[0] if after else None,
        limit=limit + 1,
    )
    data = [AlertPublic(**alert_dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(
        data=data, count=len(data), next_cursor=encode_cursor(data[-1].id) if more else None
    )


@router.get("/alerts/stream", summary="Live alert events (server-sent events)")
async def alert_stream(
    request: Request,
    fleet: FleetId,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
    after: Annotated[int | None, Query(ge=0, description="start after this event id")] = None,
    max_events: Annotated[int | None, Query(ge=1, description="end after this many events")] = None,
    timeout_s: Annotated[
        float | None, Query(gt=0, description="end after this many seconds")
    ] = None,
) -> StreamingResponse:
    """``text/event-stream`` of alert lifecycle events (``alert.opened``, ``alert.resolved``,
    ...). Without ``Last-Event-ID`` / ``after`` it starts with the next event."""
    start = after
    if last_event_id is not None:
        try:
            start = int(last_event_id)
        except ValueError:
            raise HTTPException(400, "Last-Event-ID must be an event id (integer)") from None
    gen = sse.events(
        request.app.state.engine,
        fleet,
        start,
        max_events=max_events,
        timeout_s=timeout_s,
        disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        gen,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _alert_or_404(conn: sa.Connection, fleet: str, alert_id: int) -> Any:
    row = alert_store.get_alert(conn, fleet, alert_id)
    if row is None:
        raise HTTPException(404, f"alert {alert_id} not found in fleet {fleet!r}")
    return row


def _detail(conn: sa.Connection, fleet: str, row: Any) -> AlertDetail:
    history = [
        HistoryItem(event_id=h.id, type=h.type, time_ms=h.time_ms, by=h.by)
        for h in alert_store.alert_history(conn, fleet, row.id)
    ]
    return AlertDetail(**alert_dict(row), history=history)


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert with its history")
def get_alert(conn: Conn, fleet: FleetId, alert_id: int) -> AlertDetail:
    return _detail(conn, fleet, _alert_or_404(conn, fleet, alert_id))


@router.post(
    "/alerts/{alert_id}/acknowledge", response_model=AlertDetail, summary="Acknowledge an alert"
)
def ack_alert(conn: Conn, fleet: FleetId, alert_id: int, actor: Actor) -> AlertDetail:
    _alert_or_404(conn, fleet, alert_id)
    try:
        row = acknowledge(conn, fleet, alert_id, actor.by, _now_ms())
    except AlertError as exc:
        raise HTTPException(409, str(exc)) from None
    return _detail(conn, fleet, row)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertDetail, summary="Resolve an alert")
def resolve(conn: Conn, fleet: FleetId, alert_id: int, actor: Actor) -> AlertDetail:
    """Kept as history. The same problem seen again by the vehicle later reopens it."""
    _alert_or_404(conn, fleet, alert_id)
    row = resolve_by_id(conn, fleet, alert_id, actor.by, _now_ms())
    return _detail(conn, fleet, row)


# ---------------------------------------------------------------- webhooks
class WebhookIn(BaseModel):
    url: HttpUrl
    secret: str | None = Field(
        None, min_length=16, max_length=255, description="HMAC key; generated when absent"
    )
    events: list[str] = Field(default_factory=lambda: list(delivery.DEFAULT_EVENTS))
    min_severity: Severity = "low"
    enabled: bool = True
    description: str = ""


class WebhookPatch(BaseModel):
    url: HttpUrl | None = None
    secret: str | None = Field(None, min_length=16, max_length=255)
    events: list[str] | None = None
    min_severity: Severity | None = None
    enabled: bool | None = None
    description: str | None = None


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    min_severity: str
    enabled: bool
    description: str
    created_ms: int
    secret: str | None = Field(None, description="only in the answer that created or set it")


def _hook(row: Any, secret: str | None = None) -> WebhookPublic:
    return WebhookPublic(
        id=row.id,
        url=row.url,
        events=list(row.events or []),
        min_severity=row.min_severity,
        enabled=bool(row.enabled),
        description=row.description,
        created_ms=row.created_ms,
        secret=secret,
    )


def _check_events(events: list[str]) -> list[str]:
    bad = [e for e in events if e not in EVENT_TYPES]
    if bad:
        raise HTTPException(422, f"unknown event type {bad[0]!r}; expected some of {EVENT_TYPES}")
    return events


@router.get("/webhooks", response_model=list[WebhookPublic], tags=["webhooks"])
def list_webhooks(conn: Conn, fleet: FleetId) -> list[WebhookPublic]:
    return [_hook(r) for r in alert_store.list_webhooks(conn, fleet)]


@router.post("/webhooks", response_model=WebhookPublic, status_code=201, tags=["webhooks"])
def create_webhook(conn: Conn, fleet: FleetId, body: WebhookIn) -> WebhookPublic:
    """The answer holds the signing secret; it is not shown again."""
    secret = body.secret or secrets.token_hex(32)
    hook_id = alert_store.create_webhook(
        conn,
        fleet,
        url=str(body.url),
        secret=secret,
        events=_check_events(body.events),
        min_severity=body.min_severity,
        enabled=body.enabled,
        description=body.description,
        now_ms=_now_ms(),
    )
    return _hook(_webhook_or_404(conn, fleet, hook_id), secret)


def _webhook_or_404(conn: sa.Connection, fleet: str, webhook_id: int) -> Any:
    row = alert_store.get_webhook(conn, fleet, webhook_id)
    if row is None:
        raise HTTPException(404, f"webhook {webhook_id} not found in fleet {fleet!r}")
    return row


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic, tags=["webhooks"])
def get_webhook(conn: Conn, fleet: FleetId, webhook_id: int) -> WebhookPublic:
    return _hook(_webhook_or_404(conn, fleet, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookPublic, tags=["webhooks"])
def patch_webhook(conn: Conn, fleet: FleetId, webhook_id: int, body: WebhookPatch) -> WebhookPublic:
    _webhook_or_404(conn, fleet, webhook_id)
    values = body.model_dump(exclude_none=True)
    if "url" in values:
        values["url"] = str(values["url"])
    if "events" in values:
        _check_events(values["events"])
    row = alert_store.update_webhook(conn, fleet, webhook_id, **values)
    return _hook(row, values.get("secret"))


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
def delete_webhook(conn: Conn, fleet: FleetId, webhook_id: int) -> Response:
    if not alert_store.delete_webhook(conn, fleet, webhook_id):
        raise HTTPException(404, f"webhook {webhook_id} not found in fleet {fleet!r}")
    return Response(status_code=204)


class AttemptPublic(BaseModel):
    attempt: int
    time_ms: int
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryPublic(BaseModel):
    id: int
    delivery_id: str = Field(description="X-Fleetwire-Delivery; the same for retries and replays")
    alert_event_id: int
    generation: int = Field(description="0 first delivery, 1.. replays")
    type: str
    alert_id: int
    status: str = Field(description="pending / delivered / dead / cancelled")
    attempts: int
    next_attempt_ms: int
    last_status_code: int | None
    last_error: str | None
    created_ms: int
    delivered_ms: int | None
    log: list[AttemptPublic]


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryPublic],
    tags=["webhooks"],
    summary="Delivery log of a webhook, newest first",
)
def deliveries(
    conn: Conn,
    fleet: FleetId,
    webhook_id: int,
    status: Annotated[str | None, Query(description="pending, delivered, dead, cancelled")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[DeliveryPublic]:
    import json

    _webhook_or_404(conn, fleet, webhook_id)
    after = decode_cursor(cursor, 1)
    rows = alert_store.deliveries_page(
        conn,
        fleet,
        webhook_id,
        status=status,
        before_id=after[0] if after else None,
        limit=limit + 1,
    )[:limit]
    attempts: dict[int, list[AttemptPublic]] = {}
    for a in alert_store.attempts_of(conn, fleet, [r.id for r in rows]):
        attempts.setdefault(a.delivery_pk, []).append(
            AttemptPublic(
                attempt=a.attempt,
                time_ms=a.time_ms,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
        )
    data = []
    for r in rows:
        body = json.loads(r.body)
        data.append(
            DeliveryPublic(
                id=r.id,
                delivery_id=r.delivery_id,
                alert_event_id=r.alert_event_id,
                generation=r.generation,
                type=body.get("type", ""),
                alert_id=body.get("alert", {}).get("id", 0),
                status=r.status,
                attempts=r.attempts,
                next_attempt_ms=r.next_attempt_ms,
                last_status_code=r.last_status_code,
                last_error=r.last_error,
                created_ms=r.created_ms,
                delivered_ms=r.delivered_ms,
                log=attempts.get(r.id, []),
            )
        )
    more = len(rows) == limit and len(data) == limit
    return Page(
        data=data, count=len(data), next_cursor=encode_cursor(data[-1].id) if more else None
    )


class ReplayResult(BaseModel):
    queued: int
    since_ms: int


@router.post("/webhooks/{webhook_id}/replay", response_model=ReplayResult, tags=["webhooks"])
def replay(
    conn: Conn,
    fleet: FleetId,
    webhook_id: int,
    since: Annotated[str, Query(description="ISO 8601 or epoch ms: alert events since then")],
) -> ReplayResult:
    """Queue again every alert event since ``since`` for this webhook (original delivery ids)."""
    _webhook_or_404(conn, fleet, webhook_id)
    since_ms = parse_time(since, "since")
    assert since_ms is not None
    return ReplayResult(
        queued=delivery.replay(conn, fleet, webhook_id, since_ms, _now_ms()), since_ms=since_ms
    )


# ---------------------------------------------------------------- alert rules
class RuleIn(BaseModel):
    kind: Literal["threshold", "severity_override", "setting"]
    name: str = Field(
        min_length=1,
        max_length=128,
        description="threshold: a label; severity_override: the code (P0301, SPN980/FMI9, "
        "SPN980); setting: late_after_s, fault_debounce_s or idle_alert_s",
    )
    config: dict[str, Any] = Field(
        description='threshold: {"signal", "op": "above"|"below", "value", "clear", '
        '"severity", "for_s", "when_running", "unit"}; severity_override: {"severity"}; '
        'setting: {"value"}'
    )
    enabled: bool = True


class RulePatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=128)
    config: dict[str, Any] | None = None
    enabled: bool | None = None


class RulePublic(BaseModel):
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    enabled: bool
    created_ms: int


def _rule(row: Any) -> RulePublic:
    return RulePublic(
        id=row.id,
        kind=row.kind,
        name=row.name,
        config=row.config or {},
        enabled=bool(row.enabled),
        created_ms=row.created_ms,
    )


def _validate_rule(kind: str, name: str, config: dict[str, Any]) -> None:
    if kind == "threshold":
        try:
            parse_rule("check", name, config)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    elif kind == "severity_override":
        if config.get("severity") not in SEVERITIES:
            raise HTTPException(422, f"severity_override needs 'severity' in {SEVERITIES}")
    elif kind == "setting":
        if name not in alert_store.SETTING_DEFAULTS:
            raise HTTPException(
                422,
                f"unknown setting {name!r}; expected one of {list(alert_store.SETTING_DEFAULTS)}",
            )
        value = config.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise HTTPException(422, "a setting needs a number 'value' >= 0")


@router.get("/alert-rules", response_model=list[RulePublic], tags=["alert rules"])
def list_rules(conn: Conn, fleet: FleetId) -> list[RulePublic]:
    return [_rule(r) for r in alert_store.all_rules(conn, fleet)]


@router.post("/alert-rules", response_model=RulePublic, status_code=201, tags=["alert rules"])
def create_rule(conn: Conn, fleet: FleetId, body: RuleIn) -> RulePublic:
    """Per-fleet threshold rules (a fleet with none uses the defaults: coolant hot, oil
    pressure low, battery low), per-code severity overrides and settings."""
    _validate_rule(body.kind, body.name, body.config)
    rule_id = alert_store.create_rule(
        conn, fleet, body.kind, body.name, body.config, _now_ms(), body.enabled
    )
    return _rule(alert_store.get_rule(conn, fleet, rule_id))


def _rule_or_404(conn: sa.Connection, fleet: str, rule_id: int) -> Any:
    row = alert_store.get_rule(conn, fleet, rule_id)
    if row is None:
        raise HTTPException(404, f"alert rule {rule_id} not found in fleet {fleet!r}")
    return row


@router.get("/alert-rules/{rule_id}", response_model=RulePublic, tags=["alert rules"])
def get_rule(conn: Conn, fleet: FleetId, rule_id: int) -> RulePublic:
    return _rule(_rule_or_404(conn, fleet, rule_id))


@router.patch("/alert-rules/{rule_id}", response_model=RulePublic, tags=["alert rules"])
def patch_rule(conn: Conn, fleet: FleetId, rule_id: int, body: RulePatch) -> RulePublic:
    row = _rule_or_404(conn, fleet, rule_id)
    values = body.model_dump(exclude_none=True)
    _validate_rule(row.kind, values.get("name", row.name), values.get("config", row.config or {}))
    return _rule(alert_store.update_rule(conn, fleet, rule_id, **values))


@router.delete("/alert-rules/{rule_id}", status_code=204, tags=["alert rules"])
def delete_rule(conn: Conn, fleet: FleetId, rule_id: int) -> Response:
    if not alert_store.delete_rule(conn, fleet, rule_id):
        raise HTTPException(404, f"alert rule {rule_id} not found in fleet {fleet!r}")
    return Response(status_code=204)


# ---------------------------------------------------------------- maintenance
class ScheduleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    device_ids: list[str] | None = Field(None, description="vehicles (a group); null = all")
    every_km: float | None = Field(None, gt=0, description="odometer interval, km")
    every_h: float | None = Field(None, gt=0, description="engine-hours interval, h")
    every_days: float | None = Field(None, gt=0, description="calendar interval, days")
    due_soon_km: float = Field(0.0, ge=0)
    due_soon_h: float = Field(0.0, ge=0)
    due_soon_days: float = Field(0.0, ge=0)


class SchedulePatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    device_ids: list[str] | None = None
    every_km: float | None = Field(None, gt=0)
    every_h: float | None = Field(None, gt=0)
    every_days: float | None = Field(None, gt=0)
    due_soon_km: float | None = Field(None, ge=0)
    due_soon_h: float | None = Field(None, ge=0)
    due_soon_days: float | None = Field(None, ge=0)


class SchedulePublic(ScheduleIn):
    id: int
    created_ms: int


def _schedule(row: Any) -> SchedulePublic:
    return SchedulePublic(
        id=row.id,
        created_ms=row.created_ms,
        name=row.name,
        device_ids=row.device_ids,
        every_km=row.every_km,
        every_h=row.every_h,
        every_days=row.every_days,
        due_soon_km=row.due_soon_km,
        due_soon_h=row.due_soon_h,
        due_soon_days=row.due_soon_days,
    )


def _schedule_or_404(conn: sa.Connection, fleet: str, schedule_id: int) -> Any:
    row = mstore.get_schedule(conn, fleet, schedule_id)
    if row is None:
        raise HTTPException(404, f"maintenance schedule {schedule_id} not found in fleet {fleet!r}")
    return row


@router.get("/maintenance/schedules", response_model=list[SchedulePublic], tags=["maintenance"])
def list_schedules(conn: Conn, fleet: FleetId) -> list[SchedulePublic]:
    return [_schedule(r) for r in mstore.list_schedules(conn, fleet)]


@router.post(
    "/maintenance/schedules", response_model=SchedulePublic, status_code=201, tags=["maintenance"]
)
def create_schedule(conn: Conn, fleet: FleetId, body: ScheduleIn) -> SchedulePublic:
    """Due at whichever of odometer, engine hours or calendar comes first."""
    if body.every_km is None and body.every_h is None and body.every_days is None:
        raise HTTPException(422, "a schedule needs at least one of every_km, every_h, every_days")
    sid = mstore.create_schedule(conn, fleet, body.model_dump(), _now_ms())
    return _schedule(_schedule_or_404(conn, fleet, sid))


@router.get(
    "/maintenance/schedules/{schedule_id}", response_model=SchedulePublic, tags=["maintenance"]
)
def get_schedule(conn: Conn, fleet: FleetId, schedule_id: int) -> SchedulePublic:
    return _schedule(_schedule_or_404(conn, fleet, schedule_id))


@router.patch(
    "/maintenance/schedules/{schedule_id}", response_model=SchedulePublic, tags=["maintenance"]
)
def patch_schedule(
    conn: Conn, fleet: FleetId, schedule_id: int, body: SchedulePatch
) -> SchedulePublic:
    _schedule_or_404(conn, fleet, schedule_id)
    values = body.model_dump(exclude_unset=True)
    return _schedule(mstore.update_schedule(conn, fleet, schedule_id, values))


@router.delete("/maintenance/schedules/{schedule_id}", status_code=204, tags=["maintenance"])
def delete_schedule(conn: Conn, fleet: FleetId, schedule_id: int) -> Response:
    if not mstore.delete_schedule(conn, fleet, schedule_id):
        raise HTTPException(404, f"maintenance schedule {schedule_id} not found in fleet {fleet!r}")
    return Response(status_code=204)


class ServiceIn(BaseModel):
    schedule_id: int
    done_at: str | None = Field(None, description="ISO 8601 or epoch ms; default now")
    odometer_km: float | None = Field(None, ge=0, description="default: reading at done_at")
    engine_h: float | None = Field(None, ge=0, description="default: reading at done_at")
    by: str = Field(min_length=1, max_length=128)
    notes: str = ""


class ServicePublic(BaseModel):
    id: int
    schedule_id: int
    done_ms: int
    odometer_km: float | None
    engine_h: float | None
    by: str
    notes: str


class MaintenanceItem(BaseModel):
    schedule_id: int
    schedule: str
    status: str = Field(description="ok / due_soon / overdue")
    reasons: list[str]
    odometer_km: float | None
    engine_h: float | None
    due_km: float | None
    due_engine_h: float | None
    due_ms: int | None
    remaining_km: float | None
    remaining_h: float | None
    km_per_day: float | None = Field(description="average daily distance (last 30 days)")
    engine_h_per_day: float | None
    forecast_due_ms: int | None = Field(description="when it is due at the average daily use")
    last_service: ServicePublic | None


class MaintenancePublic(BaseModel):
    device_id: str
    schedules: list[MaintenanceItem]


def _service(row: Any) -> ServicePublic:
    return ServicePublic(
        id=row.id,
        schedule_id=row.schedule_id,
        done_ms=row.done_ms,
        odometer_km=row.odometer_km,
        engine_h=row.engine_h,
        by=row.by,
        notes=row.notes,
    )


@router.post(
    "/vehicles/{vehicle_id}/services",
    response_model=ServicePublic,
    status_code=201,
    tags=["maintenance"],
    summary="Record a completed service (resets the schedule)",
)
def record_service(
    conn: Conn, fleet: FleetId, vehicle: Vehicle, body: Annotated[ServiceIn, Body()]
) -> ServicePublic:
    device = vehicle.device_id
    row = _schedule_or_404(conn, fleet, body.schedule_id)
    now = _now_ms()
    done_ms = parse_time(body.done_at, "done_at") if body.done_at else now
    assert done_ms is not None
    odo, hours = body.odometer_km, body.engine_h
    if odo is None:
        r = mstore.reading_at_or_before(conn, fleet, device, mstore.ODOMETER, done_ms)
        odo = r[1] if r else None
    if hours is None:
        r = mstore.reading_at_or_before(conn, fleet, device, mstore.ENGINE_HOURS, done_ms)
        hours = r[1] if r else None
    _, marker = mproc.baseline(conn, fleet, device, row)
    sid = mstore.add_service(
        conn,
        fleet,
        {
            "device_id": device,
            "schedule_id": row.id,
            "done_ms": done_ms,
            "odometer_km": odo,
            "engine_h": hours,
            "by": body.by,
            "notes": body.notes,
        },
        now,
    )
    resolve_alert(
        conn,
        fleet_id=fleet,
        kind="maintenance",
        key=f"{device}:s{row.id}:{marker}",
        event_time_ms=done_ms,
        now_ms=now,
        by=body.by,
    )
    progress = mstore.newest_record_ms(conn, fleet, device)
    if progress is not None:
        mproc.process_schedules(conn, fleet, device, progress, now)
    return _service(mstore.last_service(conn, fleet, device, row.id) or _must(conn, sid))


def _must(conn: sa.Connection, sid: int) -> Any:
    from cloud.db.tables_alerts import maintenance_services as v

    return conn.execute(sa.select(v).where(v.c.id == sid)).one()


def _rate(
    conn: sa.Connection, fleet: str, device: str, signal: str
) -> tuple[float | None, float | None, int | None]:
    """(latest value, average per day over the last 30 days, latest time)."""
    last = mstore.reading_at_or_before(conn, fleet, device, signal)
    if last is None:
        return None, None, None
    t1, v1 = last
    past = mstore.first_reading(conn, fleet, device, signal, t1 - 30 * sched.DAY_MS)
    if past is None or t1 - past[0] < 3_600_000:
        return v1, None, t1
    return v1, (v1 - past[1]) / ((t1 - past[0]) / sched.DAY_MS), t1


@router.get(
    "/vehicles/{vehicle_id}/maintenance",
    response_model=MaintenancePublic,
    tags=["maintenance"],
    summary="Status of every schedule of a vehicle, with a forecast due date",
)
def vehicle_maintenance(conn: Conn, fleet: FleetId, vehicle: Vehicle) -> MaintenancePublic:
    device = vehicle.device_id
    now = _now_ms()
    odo, km_day, t_odo = _rate(conn, fleet, device, mstore.ODOMETER)
    hours, h_day, t_h = _rate(conn, fleet, device, mstore.ENGINE_HOURS)
    items = []
    for row in mstore.schedules_for(conn, fleet, device):
        s = mproc.schedule_of(row)
        base, _ = mproc.baseline(conn, fleet, device, row)
        due = sched.due_points(s, base)
        status, reasons = sched.status(due, odo, hours, now)
        ref = max(t for t in (t_odo, t_h, 0) if t is not None) or now
        svc = mstore.last_service(conn, fleet, device, row.id)
        items.append(
            MaintenanceItem(
                schedule_id=s.id,
                schedule=s.name,
                status=status,
                reasons=reasons,
                odometer_km=odo,
                engine_h=hours,
                due_km=due.due_km,
                due_engine_h=due.due_h,
                due_ms=due.due_ms,
                remaining_km=due.due_km - odo
                if due.due_km is not None and odo is not None
                else None,
                remaining_h=due.due_h - hours
                if due.due_h is not None and hours is not None
                else None,
                km_per_day=km_day,
                engine_h_per_day=h_day,
                forecast_due_ms=sched.forecast_due_ms(due, odo, hours, ref, km_day, h_day),
                last_service=_service(svc) if svc is not None else None,
            )
        )
    return MaintenancePublic(device_id=device, schedules=items)
