"""Server-sent events for dashboards: the fleet's alert lifecycle events as they happen.

The feed is the ``alert_events`` table, polled, so it works whichever process (ingest,
API, worker) changed the alert. Each message is ``id: <event id>``, ``event: <type>``,
``data: {"event_id", "type", "time_ms", "alert"}``; a client that reconnects with
``Last-Event-ID`` continues after that event and misses nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from cloud.store import alerts as alert_store


def format_event(row: Any) -> bytes:
    data = json.dumps(
        {"event_id": row.id, "type": row.type, "time_ms": row.time_ms, "alert": row.payload},
        separators=(",", ":"),
    )
    return f"id: {row.id}\nevent: {row.type}\ndata: {data}\n\n".encode()


def _fetch(engine: Engine, fleet_id: str, after_id: int) -> list[Any]:
    with engine.connect() as conn:
        return alert_store.events_after(conn, fleet_id, after_id)


def _last(engine: Engine, fleet_id: str) -> int:
    with engine.connect() as conn:
        return alert_store.last_event_id(conn, fleet_id)


async def events(
    engine: Engine,
    fleet_id: str,
    after_id: int | None,
    *,
    poll_s: float = 1.0,
    heartbeat_s: float = 15.0,
    max_events: int | None = None,
    timeout_s: float | None = None,
    disconnected: Callable[[], Any] | None = None,
) -> AsyncIterator[bytes]:
    """Yield SSE messages after ``after_id`` (None: only new ones) until a limit or disconnect."""
    last = after_id if after_id is not None else await run_in_threadpool(_last, engine, fleet_id)
    sent = 0
    start = time.monotonic()
    beat = start
    yield b"retry: 3000\n\n"
    while True:
        rows = await run_in_threadpool(_fetch, engine, fleet_id, last)
        for row in rows:
            yield format_event(row)
            last = int(row.id)
            sent += 1
            if max_events is not None and sent >= max_events:
                return
        now = time.monotonic()
        if timeout_s is not None and now - start >= timeout_s:
            return
        if disconnected is not None and await disconnected():
            return
        if now - beat >= heartbeat_s:
            beat = now
            yield b": keep-alive\n\n"
        if not rows:
            await asyncio.sleep(poll_s)
