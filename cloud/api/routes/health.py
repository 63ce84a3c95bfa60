"""Service health (database reachable, ingest lag) and Prometheus metrics."""

from __future__ import annotations

import time

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from cloud.api.schemas import HealthPublic
from cloud.store import dirty, quarantine
from cloud.store import records as rec_store
from cloud.store import vehicles as veh_store

router = APIRouter(tags=["service"])


@router.get(
    "/healthz",
    response_model=HealthPublic,
    summary="Database reachable? How long since the last message was stored?",
    responses={503: {"model": HealthPublic, "description": "database unreachable"}},
)
def healthz(request: Request) -> Response:
    engine: sa.Engine = request.app.state.engine
    connected_fn = request.app.state.consumer_connected
    connected = connected_fn() if connected_fn is not None else None
    try:
        with engine.connect() as conn:
            last = rec_store.last_received_ms(conn)
    except sa.exc.DBAPIError as exc:
        body = HealthPublic(
            status="degraded",
            database=f"unavailable: {str(exc).splitlines()[0]}",
            last_ingest_ms=None,
            ingest_lag_s=None,
            consumer_connected=connected,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    lag = None if last is None else max(0.0, time.time() - last / 1000)
    body = HealthPublic(
        status="degraded" if connected is False else "ok",
        database="ok",
        last_ingest_ms=last,
        ingest_lag_s=round(lag, 3) if lag is not None else None,
        consumer_connected=connected,
    )
    return JSONResponse(body.model_dump(mode="json"))


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus text: ingest counters of this process and database gauges",
)
def metrics(request: Request) -> PlainTextResponse:
    gauges: dict[str, tuple[float, str]] = {}
    try:
        with request.app.state.engine.connect() as conn:
            gauges["vehicles"] = (veh_store.count_vehicles(conn), "vehicles known (all fleets)")
            gauges["quarantine_messages"] = (
                quarantine.count_quarantine(conn),
                "messages kept in quarantine",
            )
            gauges["dirty_windows"] = (dirty.count_dirty(conn), "processor windows awaiting retry")
        gauges["database_up"] = (1, "1 when the database answered")
    except sa.exc.DBAPIError:
        gauges["database_up"] = (0, "1 when the database answered")
    text = request.app.state.metrics.render(gauges)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
