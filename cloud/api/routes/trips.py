"""Trips of a vehicle (from the agent's trip and idle events), with idle time per trip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.api.deps import Conn, Cursor, FleetId, Range, Vehicle, decode_cursor, encode_cursor
from cloud.api.schemas import Page, TripPublic, iso
from cloud.store import trips as trip_store

router = APIRouter(prefix="/v1/vehicles", tags=["trips"])


@router.get(
    "/{vehicle_id}/trips",
    response_model=Page[TripPublic],
    summary="Trips overlapping [from, to], oldest first, paginated",
)
def trips(
    conn: Conn,
    fleet: FleetId,
    vehicle: Vehicle,
    window: Range,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size")] = 100,
    cursor: Cursor = None,
) -> Page[TripPublic]:
    after = decode_cursor(cursor, 1)
    rows = trip_store.trips_page(
        conn,
        fleet,
        vehicle.device_id,
        window.start_ms,
        window.end_ms,
        limit + 1,
        after_start_ms=after[0] if after else None,
    )
    data = [
        TripPublic(
            start_ms=r.start_ms,
            start=iso(r.start_ms),
            end_ms=r.end_ms,
            end=iso(r.end_ms),
            end_reason=r.end_reason,
            duration_s=(r.end_ms - r.start_ms) / 1000 if r.end_ms is not None else None,
            start_lat=r.start_lat,
            start_lon=r.start_lon,
            end_lat=r.end_lat,
            end_lon=r.end_lon,
            distance_km=r.distance_km,
            max_speed_kmh=r.max_speed_kmh,
            idle_s=r.idle_ms / 1000,
            positions=r.positions,
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return Page(
        data=data,
        count=len(data),
        next_cursor=encode_cursor(rows[limit - 1].start_ms) if more else None,
    )
