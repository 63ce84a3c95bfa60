"""Build the FastAPI application: ``create_app(settings)``; the engine opens in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from cloud.api.routes import alerts, drivers, health, history, routes, trips, vehicles
from cloud.db.engine import create_engine
from cloud.metrics import Metrics
from cloud.settings import Settings

DESCRIPTION = """\
Read API of the fleetwire cloud: vehicles, positions, engine samples and events by event
time, trips, sequence gaps, health and metrics.

Every request is scoped to one fleet: header `X-Fleet-Id` (default: the server's
`FLEETWIRE_DEFAULT_FLEET`). Times in queries are ISO 8601 or epoch milliseconds (UTC).
"""


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    metrics: Metrics | None = None,
    consumer_connected: Callable[[], bool] | None = None,
) -> FastAPI:
    """The API app. Without ``engine`` it opens one for ``settings.database_url`` on start-up.

    ``metrics`` and ``consumer_connected`` come from an in-process ingest (``run``) so
    ``/metrics`` and ``/healthz`` report it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine if engine is not None else create_engine(settings.database_url)
        try:
            yield
        finally:
            if owned:
                app.state.engine.dispose()

    app = FastAPI(
        title="fleetwire cloud API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics or Metrics()
    app.state.consumer_connected = consumer_connected
    app.include_router(vehicles.router)
    app.include_router(history.router)
    app.include_router(trips.router)
    app.include_router(drivers.router)
    app.include_router(alerts.router)
    app.include_router(routes.router)
    app.include_router(health.router)
    return app
