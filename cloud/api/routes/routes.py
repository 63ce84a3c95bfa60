"""Planned routes: create / list / read / update / cancel, and their adherence.

A route is a path (GeoJSON LineString or encoded polyline), ordered stops with time
windows, a corridor width, the assigned vehicle and driver and a scheduled start (see
docs/routes.md). Adherence is recomputed by the ``adherence`` processor as positions
arrive, and right away here when a route is created or updated.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field

from cloud.adherence import SCORE_FORMULA, Plan, PlanError, parse_plan
from cloud.api.deps import Conn, Cursor, FleetId, encode_cursor, parse_time
from cloud.api.schemas import Page, iso
from cloud.processors import adherence as adherence_proc
from cloud.store import plans as plan_store
from wire import WireError
from wire.topics import check_id

router = APIRouter(prefix="/v1/routes", tags=["routes"])

RouteId = Annotated[str, Path(description="route id as returned by POST /v1/routes")]

EXAMPLE = {
    "name": "West Loop deliveries",
    "device_id": "truck-017",
    "driver_id": "d-42",
    "scheduled_start": "2024-05-01T12:00:00Z",
    "corridor_m": 50,
    "path": {
        "type": "LineString",
        "coordinates": [[-87.65206, 41.8855], [-87.666616, 41.8855], [-87.666616, 41.89636]],
    },
    "stops": [
        {
            "name": "N Ashland Ave & W Grand Ave",
            "location": {"lat": 41.891473, "lon": -87.666616},
            "radius_m": 40,
            "dwell_s": 240,
            "window": {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:30:00Z"},
        }
    ],
}


class RoutePublic(BaseModel):
    route_id: str
    name: str
    device_id: str = Field(description="assigned vehicle (gateway device id)")
    driver_id: str | None
    status: str = Field(description="active / cancelled")
    state: str = Field(description="planned / in_progress / completed / ended / cancelled")
    version: int = Field(description="1, then +1 on every update")
    scheduled_start_ms: int
    scheduled_start: Any
    end_ms: int = Field(description="the route is followed over [scheduled_start, end]")
    end: Any
    created_ms: int
    updated_ms: int
    cancelled_ms: int | None
    score: float | None = Field(description="overall adherence score 0..100 (see /adherence)")
    plan: dict[str, Any] = Field(description="the normalised plan (times UTC ms, [lat, lon])")


class AdherencePublic(BaseModel):
    route_id: str
    version: int = Field(description="plan version this result is for")
    state: str
    as_of_ms: int = Field(description="event-time clock of the result: newest data used")
    as_of: Any
    computed_ms: int
    score: float | None
    score_parts: dict[str, float | None]
    score_formula: str
    report: dict[str, Any]
    stops: list[dict[str, Any]]


class RouteEventPublic(BaseModel):
    key: str
    kind: str = Field(
        description="off_route / back_on_route / arrived / departed / skipped / eta_late"
    )
    time_ms: int
    time: Any
    stop_index: int | None
    data: dict[str, Any]


class EtaStop(BaseModel):
    stop_index: int
    name: str
    eta_ms: int
    eta: Any
    distance_m: float = Field(description="along the path from the vehicle's progress")
    window_end_ms: int | None
    late: bool


class EtaPublic(BaseModel):
    route_id: str
    state: str
    as_of_ms: int | None
    progress_m: float | None = Field(description="distance along the path reached")
    speed_mps: float | None = Field(description="recent progress speed used for the ETA")
    stops: list[EtaStop] = Field(
        description="remaining stops in plan order; empty unless in progress"
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _read_body(body: Any) -> tuple[Plan, str, str | None, str]:
    """(plan, device_id, driver_id, name) from a route JSON; 422 with the reason if bad."""
    try:
        if not isinstance(body, dict):
            raise PlanError("the route must be a JSON object")
        plan = parse_plan(body)
        device = body.get("device_id")
        if device is None:
            raise PlanError("device_id: required (the assigned vehicle's gateway id)")
        try:
            device = check_id("device", device)
        except WireError as exc:
            raise PlanError(f"device_id: {exc}") from None
        driver = body.get("driver_id")
        if driver is not None and (not isinstance(driver, str) or not 1 <= len(driver) <= 64):
            raise PlanError("driver_id: must be a string of 1-64 characters")
    except PlanError as exc:
        raise HTTPException(422, str(exc)) from None
    return plan, device, driver, plan.name


def _route_out(row: Any, state: str | None, report: dict[str, Any] | None) -> RoutePublic:
    if row.status == plan_store.CANCELLED:
        state = "cancelled"
    return RoutePublic(
        route_id=row.route_id,
        name=row.name,
        device_id=row.device_id,
        driver_id=row.driver_id,
        status=row.status,
        state=state or "planned",
        version=row.version,
        scheduled_start_ms=row.start_ms,
        scheduled_start=iso(row.start_ms),
        end_ms=row.end_ms,
        end=iso(row.end_ms),
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        cancelled_ms=row.cancelled_ms,
        score=(report or {}).get("score"),
        plan=row.plan,
    )


def _load(conn: Any, fleet: str, route_id: str) -> Any:
    row = plan_store.get_route(conn, fleet, route_id)
    if row is None:
        raise HTTPException(404, f"route {route_id!r} not found in fleet {fleet!r}")
    return row


def _with_result(conn: Any, fleet: str, row: Any) -> RoutePublic:
    res = plan_store.get_result(conn, fleet, row.route_id)
    return _route_out(row, res.state if res else None, res.report if res else None)


@router.post(
    "",
    response_model=RoutePublic,
    status_code=201,
    summary="Plan a route (path, ordered stops, corridor, vehicle, driver, start)",
)
def create_route(
    conn: Conn,
    fleet: FleetId,
    body: Annotated[Any, Body(openapi_examples={"west_loop": {"value": EXAMPLE}})],
) -> RoutePublic:
    plan, device, driver, name = _read_body(body)
    route_id = "rt_" + uuid.uuid4().hex[:20]
    now = _now_ms()
    plan_store.create_route(
        conn,
        fleet,
        route_id,
        name=name,
        device_id=device,
        driver_id=driver,
        plan=plan.to_json(),
        start_ms=plan.scheduled_start_ms,
        end_ms=plan.end_ms,
        now_ms=now,
    )
    row = _load(conn, fleet, route_id)
    adherence_proc.recompute_route(conn, fleet, row, now)
    return _with_result(conn, fleet, row)


@router.get("", response_model=Page[RoutePublic], summary="Routes by scheduled start, paginated")
def list_routes(
    conn: Conn,
    fleet: FleetId,
    device_id: Annotated[str | None, Query(description="only this vehicle's routes")] = None,
    status: Annotated[str | None, Query(pattern="^(active|cancelled)$")] = None,
    from_: Annotated[
        str | None, Query(alias="from", description="scheduled start at or after (ISO/epoch ms)")
    ] = None,
    to: Annotated[str | None, Query(description="scheduled start at or before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
    cursor: Cursor = None,
) -> Page[RoutePublic]:
    after = None
    if cursor:
        raw = _decode_route_cursor(cursor)
        after = (raw[0], raw[1])
    rows = plan_store.routes_page(
        conn,
        fleet,
        limit + 1,
        device_id=device_id,
        status=status,
        start_from_ms=parse_time(from_, "from"),
        start_to_ms=parse_time(to, "to"),
        after=after,
    )
    data = [_route_out(r, r.state, r.report) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page(
        data=data,
        count=len(data),
        next_cursor=encode_cursor(last.start_ms, last.route_id) if last is not None else None,
    )


def _decode_route_cursor(cursor: str) -> tuple[int, str]:
    """(integer, text) from a cursor made by ``encode_cursor(int, text)``; 400 otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, route_id = raw.split(":", 1)
        return int(start), route_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(400, f"invalid cursor {cursor!r}: use next_cursor as given") from None


@router.get("/{route_id}", response_model=RoutePublic, summary="One route with its plan")
def get_route(conn: Conn, fleet: FleetId, route_id: RouteId) -> RoutePublic:
    return _with_result(conn, fleet, _load(conn, fleet, route_id))


@router.put(
    "/{route_id}",
    response_model=RoutePublic,
    summary="Replace the plan (also while running); adherence is recomputed",
)
def update_route(
    conn: Conn,
    fleet: FleetId,
    route_id: RouteId,
    body: Annotated[Any, Body(openapi_examples={"west_loop": {"value": EXAMPLE}})],
) -> RoutePublic:
    row = _load(conn, fleet, route_id)
    if row.status == plan_store.CANCELLED:
        raise HTTPException(409, f"route {route_id!r} is cancelled; plan a new route instead")
    plan, device, driver, name = _read_body(body)
    now = _now_ms()
    plan_store.update_route(
        conn,
        fleet,
        route_id,
        name=name,
        device_id=device,
        driver_id=driver,
        plan=plan.to_json(),
        start_ms=plan.scheduled_start_ms,
        end_ms=plan.end_ms,
        now_ms=now,
    )
    row = _load(conn, fleet, route_id)
    adherence_proc.recompute_route(conn, fleet, row, now)
    return _with_result(conn, fleet, row)


@router.delete(
    "/{route_id}",
    response_model=RoutePublic,
    summary="Cancel a route: no longer followed, its open alerts are resolved",
)
def cancel_route(conn: Conn, fleet: FleetId, route_id: RouteId) -> RoutePublic:
    row = _load(conn, fleet, route_id)
    if row.status != plan_store.CANCELLED:
        now = _now_ms()
        plan_store.cancel_route(conn, fleet, route_id, now)
        adherence_proc.cancel_alerts(conn, fleet, route_id, now)
    return _with_result(conn, fleet, _load(conn, fleet, route_id))


@router.get(
    "/{route_id}/adherence",
    response_model=AdherencePublic,
    summary="Adherence report: corridor share, minutes off route, stops, distance, score",
)
def adherence(conn: Conn, fleet: FleetId, route_id: RouteId) -> AdherencePublic:
    row = _load(conn, fleet, route_id)
    res = plan_store.get_result(conn, fleet, route_id)
    if res is None:
        raise HTTPException(404, f"route {route_id!r} has no adherence result yet")
    return AdherencePublic(
        route_id=route_id,
        version=res.version,
        state="cancelled" if row.status == plan_store.CANCELLED else res.state,
        as_of_ms=res.as_of_ms,
        as_of=iso(res.as_of_ms),
        computed_ms=res.computed_ms,
        score=res.report.get("score"),
        score_parts=res.report.get("score_parts", {}),
        score_formula=SCORE_FORMULA,
        report=res.report,
        stops=res.stops,
    )


@router.get(
    "/{route_id}/events",
    response_model=Page[RouteEventPublic],
    summary="Adherence events by event time (off route, arrived, skipped, ...), paginated",
)
def events(
    conn: Conn,
    fleet: FleetId,
    route_id: RouteId,
    kind: Annotated[list[str] | None, Query(description="only these kinds (repeatable)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size")] = 1000,
    cursor: Cursor = None,
) -> Page[RouteEventPublic]:
    _load(conn, fleet, route_id)
    after = None
    if cursor:
        raw = _decode_route_cursor(cursor)
        after = (raw[0], raw[1])
    rows = plan_store.events_page(conn, fleet, route_id, limit + 1, kinds=kind or (), after=after)
    data = [
        RouteEventPublic(
            key=r.key,
            kind=r.kind,
            time_ms=r.time_ms,
            time=iso(r.time_ms),
            stop_index=r.stop_index,
            data=r.data,
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page(
        data=data,
        count=len(data),
        next_cursor=encode_cursor(last.time_ms, last.key) if last is not None else None,
    )


@router.get(
    "/{route_id}/eta",
    response_model=EtaPublic,
    summary="ETA of the remaining stops from the plan and the vehicle's recent progress",
)
def eta(conn: Conn, fleet: FleetId, route_id: RouteId) -> EtaPublic:
    row = _load(conn, fleet, route_id)
    res = plan_store.get_result(conn, fleet, route_id)
    if res is None:
        return EtaPublic(
            route_id=route_id,
            state="planned",
            as_of_ms=None,
            progress_m=None,
            speed_mps=None,
            stops=[],
        )
    stops = [] if row.status == plan_store.CANCELLED else res.eta.get("stops", [])
    return EtaPublic(
        route_id=route_id,
        state="cancelled" if row.status == plan_store.CANCELLED else res.state,
        as_of_ms=res.as_of_ms,
        progress_m=res.eta.get("progress_m"),
        speed_mps=res.eta.get("speed_mps"),
        stops=[EtaStop(**s, eta=iso(s["eta_ms"])) for s in stops],
    )
