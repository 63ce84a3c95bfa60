"""Routes: drivers, their duty-status events and hours of service (computed on read).

Duty events come from the vehicles' ELD records (``cloud.processors.duty``) or are entered
here by the driver (``origin = driver``) or a dispatcher (``origin = cloud``). An edit
never overwrites: the edited row becomes ``inactive_changed`` and the new row names it in
``edit_of`` (49 CFR 395 Subpart B, Appendix A 4.3.2.8, 7.23). See docs/hos.md ("API").
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud import hos_service
from cloud.api.deps import (
    Conn,
    Cursor,
    FleetId,
    Range,
    decode_cursor,
    decode_text_cursor,
    encode_cursor,
    parse_time,
)
from cloud.api.schemas import Page, iso
from cloud.processors.hos import STATUSES, HosInputError
from cloud.processors.hos.rules import resolve_limits
from cloud.store import hos as hos_store

router = APIRouter(prefix="/v1/drivers", tags=["hours of service"])

# ELD username, Appendix A 7.18: 4-60 characters (the agent's login accepts the same set).
DRIVER_ID = re.compile(r"[A-Za-z0-9_.@+-]{4,60}")
UNIDENTIFIED = "unidentified"
NOTE_MAX = 60  # comment/annotation, App. A 7.6
NOTE_MIN = 4  # when an annotation is required, App. A 4.3.2.6
LOCATION_MAX = 60  # driver's location description, App. A 7.8
CLOCK_SKEW_MS = 60_000  # a start this far ahead of the server clock is still "now"
MAX_VIOLATION_RANGE_MS = 31 * hos_service.DAY_MS
DEFAULT_VIOLATION_RANGE_MS = 8 * hos_service.DAY_MS
NEEDS_NOTE = frozenset({"personal_conveyance", "yard_move"})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------- models
class DriverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    ruleset: str = Field("us_property_70_8", description="us_property_70_8 / _60_7, passenger")
    exceptions: list[str] = Field(
        default_factory=list, description="adverse_driving, short_haul_150, big_day_16"
    )
    home_terminal_tz: str = Field(description="IANA time zone, e.g. America/Chicago")


class DriverPublic(BaseModel):
    driver_id: str
    name: str
    ruleset: str
    exceptions: list[str]
    home_terminal_tz: str
    created_ms: int
    updated_ms: int


Instant = str | int  # ISO 8601 with a UTC offset, or epoch milliseconds


class DutyStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(description="off_duty, sleeper_berth, driving, on_duty, ...")
    start: Instant | None = Field(None, description="default: now; earlier = a late entry")
    end: Instant | None = Field(
        None, description="optional: the status before `start` resumes here"
    )
    note: str | None = Field(None, description="annotation, at most 60 characters")
    location: str | None = Field(None, description="driver's location description")
    origin: Literal["driver", "cloud"] = Field("driver", description="driver or dispatcher")


class DutyEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, description="default: the edited event's status")
    start: Instant | None = Field(None, description="default: the edited event's start")
    note: str = Field(description="why the edit (required, 4-60 characters)")
    location: str | None = None
    origin: Literal["driver", "cloud"] = "driver"


class DutyEventPublic(BaseModel):
    id: int
    driver_id: str
    status: str
    start_ms: int
    start: datetime
    origin: str = Field(description="auto (the vehicle) / driver / cloud")
    record_status: str = Field(description="active / inactive_changed")
    edit_of: int | None = Field(description="id of the event this edit replaced")
    source: str = Field(description="eld (vehicle record) / api")
    device_id: str | None
    boot_id: int | None
    seq: int | None
    eld_seq: int | None
    note: str | None
    location: str | None
    lat: float | None
    lon: float | None
    odometer_km: float | None
    engine_hours: float | None
    created_ms: int


def driver_public(row: Any) -> DriverPublic:
    return DriverPublic(
        driver_id=row.driver_id,
        name=row.name,
        ruleset=row.ruleset,
        exceptions=list(row.exceptions),
        home_terminal_tz=row.home_terminal_tz,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def event_public(row: Any) -> DutyEventPublic:
    return DutyEventPublic(
        id=row.id,
        driver_id=row.driver_id,
        status=row.status,
        start_ms=row.time_ms,
        start=iso(row.time_ms),
        origin=row.origin,
        record_status=row.record_status,
        edit_of=row.edit_of,
        source=row.source,
        device_id=row.device_id,
        boot_id=row.boot_id,
        seq=row.seq,
        eld_seq=row.eld_seq,
        note=row.note,
        location=row.location,
        lat=row.lat,
        lon=row.lon,
        odometer_km=row.odometer_km,
        engine_hours=row.engine_hours,
        created_ms=row.created_ms,
    )


# ---------------------------------------------------------------- validation
def _driver(conn: Conn, fleet: FleetId, driver_id: Annotated[str, Path()]) -> sa.Row[Any]:
    row = hos_store.get_driver(conn, fleet, driver_id)
    if row is None:
        raise HTTPException(
            404, f"driver {driver_id!r} not found in fleet {fleet!r}; create it with PUT first"
        )
    return row


Driver = Annotated[sa.Row[Any], Depends(_driver)]


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(
            422, f"home_terminal_tz {name!r} is not an IANA time zone (e.g. America/Chicago)"
        ) from None


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise HTTPException(
            422, f"unknown status {status!r}; expected one of {', '.join(STATUSES)}"
        )


def _check_note(note: str | None, *, required: bool, why: str = "") -> str | None:
    if note is not None:
        note = note.strip()
        if len(note) > NOTE_MAX or not note.isprintable():
            raise HTTPException(422, f"note must be printable text of at most {NOTE_MAX} chars")
    if required and (note is None or len(note) < NOTE_MIN):
        raise HTTPException(422, f"{why} needs a note of {NOTE_MIN}-{NOTE_MAX} characters")
    return note or None


def _check_location(location: str | None) -> str | None:
    if location is None:
        return None
    location = location.strip()
    if len(location) > LOCATION_MAX or not location.isprintable():
        raise HTTPException(422, f"location must be printable text of at most {LOCATION_MAX} chars")
    return location or None


def _instant(value: Instant | None, name: str, now_ms: int, default: int) -> int:
    """Epoch ms of a body time: ISO 8601 with an offset or epoch ms; not in the future."""
    if value is None:
        return default
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise HTTPException(
                422, f"{name}: expected ISO 8601 such as 2026-01-06T07:00:00Z, got {value!r}"
            ) from None
        if parsed.tzinfo is None:
            raise HTTPException(422, f"{name}: {value!r} has no UTC offset; add Z or +hh:mm")
        ms = int(parsed.timestamp() * 1000)
    else:
        ms = int(value)
    if ms < hos_service.MIN_MS:
        raise HTTPException(422, f"{name}: {value!r} is before 1980")
    if ms > now_ms + CLOCK_SKEW_MS:
        raise HTTPException(422, f"{name}: {value!r} is in the future; duty status is logged")
    return min(ms, now_ms)


def _same_second_conflict(
    conn: sa.Connection, fleet: str, driver_id: str, time_ms: int, ignore: int | None = None
) -> None:
    second = time_ms // 1000 * 1000
    rows = hos_store.driver_events(conn, fleet, driver_id, second, second + 999, active_only=True)
    clash = [r for r in rows if r.id != ignore]
    if clash:
        raise HTTPException(
            409,
            f"event {clash[0].id} ({clash[0].status}) already starts at "
            f"{iso(clash[0].time_ms)}; edit it with PATCH instead",
        )


# ---------------------------------------------------------------- drivers
@router.put(
    "/{driver_id}",
    response_model=DriverPublic,
    summary="Create or replace a driver's HOS settings (201 when created)",
)
def put_driver(
    conn: Conn, fleet: FleetId, driver_id: str, body: DriverIn, response: Response
) -> DriverPublic:
    if not DRIVER_ID.fullmatch(driver_id) or driver_id.lower() == UNIDENTIFIED:
        raise HTTPException(
            422,
            f"driver id {driver_id!r}: 4-60 characters of A-Z a-z 0-9 _ . @ + - "
            f"(ELD username), not {UNIDENTIFIED!r}",
        )
    try:
        resolve_limits(body.ruleset, body.exceptions)
    except HosInputError as exc:
        raise HTTPException(422, str(exc)) from None
    _check_zone(body.home_terminal_tz)
    created = hos_store.put_driver(
        conn,
        fleet,
        driver_id,
        name=body.name,
        ruleset=body.ruleset,
        exceptions=sorted(set(body.exceptions)),
        home_terminal_tz=body.home_terminal_tz,
        now_ms=_now_ms(),
    )
    response.status_code = 201 if created else 200
    return driver_public(hos_store.get_driver(conn, fleet, driver_id))


@router.get("", response_model=Page[DriverPublic], summary="Drivers of the fleet, by id")
def list_drivers(
    conn: Conn,
    fleet: FleetId,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size")] = 100,
    cursor: Cursor = None,
) -> Page[DriverPublic]:
    rows = hos_store.drivers_page(conn, fleet, limit + 1, decode_text_cursor(cursor))
    data = [driver_public(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(
        data=data,
        count=len(data),
        next_cursor=encode_cursor(rows[limit - 1].driver_id) if more else None,
    )


@router.get("/{driver_id}", response_model=DriverPublic, summary="One driver's settings")
def get_driver(driver: Driver) -> DriverPublic:
    return driver_public(driver)


# ---------------------------------------------------------------- duty status
@router.post(
    "/{driver_id}/duty-status",
    response_model=list[DutyEventPublic],
    status_code=201,
    summary="Log a duty status now or late; with `end`, the previous status resumes there",
)
def post_duty_status(
    conn: Conn, fleet: FleetId, driver: Driver, body: DutyStatusIn
) -> list[DutyEventPublic]:
    now = _now_ms()
    _check_status(body.status)
    note = _check_note(body.note, required=body.status in NEEDS_NOTE, why=body.status)
    location = _check_location(body.location)
    start = _instant(body.start, "start", now, now)
    end = _instant(body.end, "end", now, now) if body.end is not None else None
    did = driver.driver_id
    _same_second_conflict(conn, fleet, did, start)
    resume: str | None = None
    if end is not None:
        if end // 1000 <= start // 1000:
            raise HTTPException(
                422, f"end {iso(end)} is not after start {iso(start)} (whole seconds)"
            )
        inside = hos_store.driver_events(
            conn,
            fleet,
            did,
            start // 1000 * 1000 + 1000,
            end // 1000 * 1000 - 1,
            active_only=True,
        )
        if inside:
            ids = ", ".join(str(r.id) for r in inside)
            raise HTTPException(
                409, f"events {ids} start between start and end; edit them with PATCH instead"
            )
        at_end = hos_store.driver_events(
            conn, fleet, did, end // 1000 * 1000, end // 1000 * 1000 + 999, active_only=True
        )
        if not at_end:
            before = hos_store.last_active_before(conn, fleet, did, start)
            # Before the first event the calculator assumes off duty: resume that.
            resume = before.status if before is not None else "off_duty"
    base = {"driver_id": did, "origin": body.origin, "created_ms": now}
    ids = [
        hos_store.insert_api_row(
            conn,
            fleet,
            {**base, "time_ms": start, "status": body.status, "note": note, "location": location},
        )
    ]
    if end is not None and resume is not None:
        ids.append(
            hos_store.insert_api_row(conn, fleet, {**base, "time_ms": end, "status": resume})
        )
    return [event_public(hos_store.get_duty_event(conn, fleet, i)) for i in ids]


@router.patch(
    "/{driver_id}/duty-status/{event_id}",
    response_model=DutyEventPublic,
    summary="Edit an event: the original becomes inactive_changed, the edit is a new event",
)
def patch_duty_status(
    conn: Conn, fleet: FleetId, driver: Driver, event_id: int, body: DutyEditIn
) -> DutyEventPublic:
    now = _now_ms()
    old = hos_store.get_duty_event(conn, fleet, event_id)
    if old is None or old.driver_id != driver.driver_id:
        raise HTTPException(404, f"duty event {event_id} of driver {driver.driver_id!r} not found")
    if old.record_status != hos_store.ACTIVE:
        raise HTTPException(
            409, f"duty event {event_id} is {old.record_status}: edit the event that replaced it"
        )
    if old.origin == "auto" and old.status == "driving":
        raise HTTPException(
            409,
            "automatically recorded driving cannot be edited (49 CFR 395 App. A 4.3.2.8.2(b))",
        )
    status = body.status if body.status is not None else old.status
    _check_status(status)
    note = _check_note(body.note, required=True, why="an edit")
    start = _instant(body.start, "start", now, old.time_ms)
    _same_second_conflict(conn, fleet, driver.driver_id, start, ignore=old.id)
    if not hos_store.mark_changed(conn, fleet, old.id):
        raise HTTPException(409, f"duty event {event_id} was edited meanwhile; reload it")
    location = _check_location(body.location) if body.location is not None else old.location
    same_place = start == old.time_ms
    new_id = hos_store.insert_api_row(
        conn,
        fleet,
        {
            "driver_id": driver.driver_id,
            "time_ms": start,
            "status": status,
            "origin": body.origin,
            "edit_of": old.id,
            "note": note,
            "location": location,
            # the vehicle's position and readings still describe the edited instant
            "lat": old.lat if same_place else None,
            "lon": old.lon if same_place else None,
            "odometer_km": old.odometer_km if same_place else None,
            "engine_hours": old.engine_hours if same_place else None,
            "created_ms": now,
        },
    )
    return event_public(hos_store.get_duty_event(conn, fleet, new_id))


@router.get(
    "/{driver_id}/duty-status",
    response_model=Page[DutyEventPublic],
    summary="A driver's duty events starting in [from, to], originals of edits included",
)
def list_duty_status(
    conn: Conn,
    fleet: FleetId,
    driver: Driver,
    window: Range,
    include_inactive: Annotated[
        bool, Query(description="also list originals replaced by edits")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size")] = 1000,
    cursor: Cursor = None,
) -> Page[DutyEventPublic]:
    after = decode_cursor(cursor, 2)
    rows = hos_store.driver_events(
        conn,
        fleet,
        driver.driver_id,
        window.start_ms,
        window.end_ms,
        active_only=not include_inactive,
        limit=limit + 1,
        after=(after[0], after[1]) if after else None,
    )
    data = [event_public(r) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page(
        data=data,
        count=len(data),
        next_cursor=encode_cursor(last.time_ms, last.id) if last is not None else None,
    )


# ---------------------------------------------------------------- hours of service
@router.get("/{driver_id}/hos/clocks", summary="Remaining clocks and violations at `at`")
def hos_clocks(
    conn: Conn,
    fleet: FleetId,
    driver: Driver,
    at: Annotated[str | None, Query(description="ISO 8601 or epoch ms; default now")] = None,
) -> dict[str, Any]:
    at_ms = parse_time(at, "at")
    try:
        return hos_service.clocks(conn, fleet, driver, at_ms if at_ms is not None else _now_ms())
    except HosInputError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/{driver_id}/hos/violations", summary="Violations overlapping [from, to]")
def hos_violations(conn: Conn, fleet: FleetId, driver: Driver, window: Range) -> dict[str, Any]:
    now = _now_ms()
    to_ms = window.end_ms if window.end_ms is not None else now
    from_ms = window.start_ms if window.start_ms is not None else to_ms - DEFAULT_VIOLATION_RANGE_MS
    if from_ms > to_ms:
        raise HTTPException(422, "query parameter 'from' is after 'to'")
    if to_ms - from_ms > MAX_VIOLATION_RANGE_MS:
        raise HTTPException(422, "the range from..to may span at most 31 days")
    try:
        return hos_service.violations(conn, fleet, driver, from_ms, to_ms, now)
    except HosInputError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get(
    "/{driver_id}/hos/logs",
    summary="One home-terminal day: graph-grid segments, totals and the day's events",
)
def hos_logs(
    conn: Conn,
    fleet: FleetId,
    driver: Driver,
    day: Annotated[str, Query(alias="date", description="YYYY-MM-DD in the home-terminal zone")],
) -> dict[str, Any]:
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise HTTPException(
            422, f"query parameter 'date': expected YYYY-MM-DD, got {day!r}"
        ) from None
    if parsed.year < 1980 or parsed.year > 2199:
        raise HTTPException(422, f"query parameter 'date': {day!r} is outside 1980-2199")
    try:
        log = hos_service.daily(conn, fleet, driver, parsed, _now_ms())
    except HosInputError as exc:
        raise HTTPException(422, str(exc)) from None
    log["events"] = [event_public(r).model_dump(mode="json") for r in log["events"]]
    return log
