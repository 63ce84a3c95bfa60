"""Vehicles of a fleet, the latest state of one, and the sequence gaps still missing."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query

from cloud.api.deps import (
    MAX_LIMIT,
    Conn,
    Cursor,
    FleetId,
    Vehicle,
    decode_text_cursor,
    encode_cursor,
)
from cloud.api.schemas import (
    BootGaps,
    GapsPublic,
    LatestPublic,
    Page,
    PositionPublic,
    SignalValue,
    StatusPublic,
    VehiclePublic,
    iso,
)
from cloud.store import positions as pos_store
from cloud.store import records as rec_store
from cloud.store import vehicles as veh_store

router = APIRouter(prefix="/v1/vehicles", tags=["vehicles"])


def vehicle_public(row: sa.Row[Any]) -> VehiclePublic:
    return VehiclePublic(
        device_id=row.device_id,
        fleet_id=row.fleet_id,
        first_seen_ms=row.first_seen_ms,
        last_seen_ms=row.last_seen_ms,
        last_event_ms=row.last_event_ms,
        last_event=iso(row.last_event_ms),
        last_boot_id=row.last_boot_id,
        status=row.last_status,
    )


def position_public(row: Any) -> PositionPublic:
    data = dict(row.data)
    return PositionPublic(
        time_ms=row.time_ms,
        time=iso(row.time_ms),
        boot_id=row.boot_id,
        seq=row.seq,
        lat=data.get("lat"),
        lon=data.get("lon"),
        alt_m=data.get("alt_m"),
        speed_mps=data.get("speed_mps"),
        course_deg=data.get("course_deg"),
        sats=data.get("sats"),
        hdop=data.get("hdop"),
        valid=data.get("valid"),
        data=data,
    )


@router.get("", response_model=Page[VehiclePublic], summary="List the fleet's vehicles")
def list_vehicles(
    conn: Conn,
    fleet: FleetId,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Cursor = None,
) -> Page[VehiclePublic]:
    rows = veh_store.list_vehicles(conn, fleet, limit + 1, after=decode_text_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=[vehicle_public(r) for r in rows],
        count=len(rows),
        next_cursor=encode_cursor(rows[-1].device_id) if more else None,
    )


@router.get("/{vehicle_id}", response_model=VehiclePublic, summary="One vehicle")
def get_vehicle(vehicle: Vehicle) -> VehiclePublic:
    return vehicle_public(vehicle)


@router.get(
    "/{vehicle_id}/latest",
    response_model=LatestPublic,
    summary="Latest position, engine values and status (by event time)",
)
def latest(conn: Conn, fleet: FleetId, vehicle: Vehicle) -> LatestPublic:
    device = vehicle.device_id
    pos = pos_store.latest_position(conn, fleet, device)
    signals = pos_store.latest_signal_values(conn, fleet, device)
    status = veh_store.get_status(conn, fleet, device)
    return LatestPublic(
        device_id=device,
        position=position_public(pos) if pos is not None else None,
        engine={
            s.name: SignalValue(value=s.value, time_ms=s.time_ms, time=iso(s.time_ms))
            for s in signals
        },
        status=StatusPublic(
            state=status.state,
            time_ms=status.time_ms,
            received_ms=status.received_ms,
            data=status.data,
        )
        if status is not None
        else None,
    )


@router.get(
    "/{vehicle_id}/gaps",
    response_model=GapsPublic,
    summary="Per boot, the sequence ranges not received (yet)",
)
def gaps(conn: Conn, fleet: FleetId, vehicle: Vehicle) -> GapsPublic:
    boots = rec_store.sequence_gaps(conn, fleet, vehicle.device_id)
    return GapsPublic(
        device_id=vehicle.device_id,
        boots=[
            BootGaps(
                boot_id=b.boot_id,
                first_seq=b.first_seq,
                last_seq=b.last_seq,
                received=b.received,
                missing_count=sum(hi - lo + 1 for lo, hi in b.missing),
                missing=b.missing,
                evicted_count=sum(hi - lo + 1 for lo, hi in b.evicted),
                evicted=b.evicted,
            )
            for b in boots
        ],
    )
