"""Response models of the API; list endpoints share ``{data, count, next_cursor}``.

Times are given twice: ``*_ms`` (UTC milliseconds since the epoch, event time unless
named ``received``) and an ISO 8601 UTC string for people.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


def iso(ms: int | None) -> datetime | None:
    """UTC datetime of epoch milliseconds (None stays None)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="number of items in this page")
    next_cursor: str | None = Field(
        None, description="pass as ?cursor= to get the next page; null on the last page"
    )


class VehiclePublic(BaseModel):
    device_id: str
    fleet_id: str
    first_seen_ms: int
    last_seen_ms: int = Field(description="when the cloud last received a message (UTC ms)")
    last_event_ms: int | None = Field(description="newest record event time (UTC ms)")
    last_event: datetime | None
    last_boot_id: int | None
    status: str | None = Field(description="online / offline from the status topic")


class PositionPublic(BaseModel):
    time_ms: int
    time: datetime
    boot_id: int
    seq: int
    lat: float | None = Field(description="degrees WGS84")
    lon: float | None = Field(description="degrees WGS84")
    alt_m: float | None
    speed_mps: float | None
    course_deg: float | None
    sats: int | None
    hdop: float | None
    valid: bool | None
    data: dict[str, Any] = Field(description="the whole position record as sent")


class EngineSamplePublic(BaseModel):
    time_ms: int
    time: datetime
    boot_id: int
    seq: int
    values: dict[str, Any] = Field(description="VSS signal name -> value (units per VSS)")


class EventPublic(BaseModel):
    time_ms: int
    time: datetime
    boot_id: int
    seq: int
    name: str
    attributes: dict[str, Any]


class SignalValue(BaseModel):
    value: Any
    time_ms: int
    time: datetime


class StatusPublic(BaseModel):
    state: str
    time_ms: int | None
    received_ms: int
    data: dict[str, Any]


class LatestPublic(BaseModel):
    device_id: str
    position: PositionPublic | None = Field(description="newest valid fix by event time")
    engine: dict[str, SignalValue] = Field(description="each signal's newest value")
    status: StatusPublic | None


class TripPublic(BaseModel):
    start_ms: int
    start: datetime
    end_ms: int | None = Field(description="null while the trip is open")
    end: datetime | None
    end_reason: str | None
    duration_s: float | None
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    distance_km: float | None
    max_speed_kmh: float | None
    idle_s: float
    positions: int


class BootGaps(BaseModel):
    boot_id: int
    first_seq: int
    last_seq: int
    received: int
    missing_count: int
    missing: list[tuple[int, int]] = Field(
        description="inclusive [from_seq, to_seq] ranges not received yet"
    )
    evicted_count: int = Field(
        description="sequences the agent thinned away to stay under its disk cap"
    )
    evicted: list[tuple[int, int]] = Field(
        description="inclusive ranges reported evicted by the agent (outbox_evicted): they never arrive"
    )


class GapsPublic(BaseModel):
    device_id: str
    boots: list[BootGaps]


class HealthPublic(BaseModel):
    status: str = Field(description="ok / degraded")
    database: str
    last_ingest_ms: int | None
    ingest_lag_s: float | None = Field(description="seconds since the last message was stored")
    consumer_connected: bool | None = Field(description="null when no consumer runs in-process")
