"""Time series of one vehicle by event time: positions, engine samples, events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.api.deps import Conn, Cursor, FleetId, Range, Vehicle, decode_cursor, encode_cursor
from cloud.api.routes.vehicles import position_public
from cloud.api.schemas import EngineSamplePublic, EventPublic, Page, PositionPublic, iso
from cloud.store import events as ev_store
from cloud.store import positions as pos_store
from cloud.store import records as rec_store

router = APIRouter(prefix="/v1/vehicles", tags=["history"])

PageLimit = Annotated[int, Query(ge=1, le=10_000, description="page size")]


def _next(rows: list, limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last.time_ms, last.boot_id, last.seq)


@router.get(
    "/{vehicle_id}/positions",
    response_model=Page[PositionPublic],
    summary="Positions by event time, oldest first, paginated",
)
def positions(
    conn: Conn,
    fleet: FleetId,
    vehicle: Vehicle,
    window: Range,
    limit: PageLimit = 1000,
    cursor: Cursor = None,
) -> Page[PositionPublic]:
    after = decode_cursor(cursor, 3)
    rows = pos_store.positions_page(
        conn, fleet, vehicle.device_id, window.start_ms, window.end_ms, limit + 1, after
    )
    data = [position_public(r) for r in rows[:limit]]
    return Page(data=data, count=len(data), next_cursor=_next(rows, limit))


@router.get(
    "/{vehicle_id}/engine",
    response_model=Page[EngineSamplePublic],
    summary="Engine samples (VSS signal values) by event time, paginated",
)
def engine(
    conn: Conn,
    fleet: FleetId,
    vehicle: Vehicle,
    window: Range,
    limit: PageLimit = 1000,
    cursor: Cursor = None,
) -> Page[EngineSamplePublic]:
    after = decode_cursor(cursor, 3)
    rows = rec_store.records_between(
        conn,
        fleet,
        vehicle.device_id,
        "engine",
        window.start_ms,
        window.end_ms,
        after=after,
        limit=limit + 1,
    )
    data = [
        EngineSamplePublic(
            time_ms=r.time_ms, time=iso(r.time_ms), boot_id=r.boot_id, seq=r.seq, values=r.data
        )
        for r in rows[:limit]
    ]
    return Page(data=data, count=len(data), next_cursor=_next(rows, limit))


@router.get(
    "/{vehicle_id}/events",
    response_model=Page[EventPublic],
    summary="Events (trip_start, idle_end, dtc_new, ...) by event time, paginated",
)
def events(
    conn: Conn,
    fleet: FleetId,
    vehicle: Vehicle,
    window: Range,
    name: Annotated[
        list[str] | None, Query(description="only these event names (repeat for several)")
    ] = None,
    limit: PageLimit = 1000,
    cursor: Cursor = None,
) -> Page[EventPublic]:
    after = decode_cursor(cursor, 3)
    rows = ev_store.events_page(
        conn,
        fleet,
        vehicle.device_id,
        window.start_ms,
        window.end_ms,
        limit + 1,
        names=name or (),
        after=after,
    )
    data = [
        EventPublic(
            time_ms=r.time_ms,
            time=iso(r.time_ms),
            boot_id=r.boot_id,
            seq=r.seq,
            name=r.name,
            attributes=r.data,
        )
        for r in rows[:limit]
    ]
    return Page(data=data, count=len(data), next_cursor=_next(rows, limit))
