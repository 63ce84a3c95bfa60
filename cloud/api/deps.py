"""Request dependencies: a connection (one transaction per request), the fleet, the vehicle, times.

Routes name what they need as types (``Conn``, ``FleetId``, ``Vehicle``); parsing and
"not found" / "bad parameter" answers happen here, once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, HTTPException, Path, Query, Request

from cloud.store import vehicles as veh_store
from wire import WireError
from wire.topics import check_id

MAX_LIMIT = 10_000


def get_conn(request: Request) -> Iterator[sa.Connection]:
    engine: sa.Engine = request.app.state.engine
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise HTTPException(503, "database unavailable") from exc
    with conn, conn.begin():
        yield conn


def get_fleet(
    request: Request,
    x_fleet_id: Annotated[
        str | None, Header(description="fleet (tenant) id; the server default when absent")
    ] = None,
) -> str:
    fleet = x_fleet_id if x_fleet_id is not None else request.app.state.settings.default_fleet
    try:
        return check_id("fleet", fleet)
    except WireError as exc:
        raise HTTPException(400, f"X-Fleet-Id: {exc}") from exc


Conn = Annotated[sa.Connection, Depends(get_conn)]
FleetId = Annotated[str, Depends(get_fleet)]


def get_vehicle(
    conn: Conn,
    fleet: FleetId,
    vehicle_id: Annotated[str, Path(description="device id of the vehicle's gateway")],
) -> sa.Row[Any]:
    row = veh_store.get_vehicle(conn, fleet, vehicle_id)
    if row is None:
        raise HTTPException(404, f"vehicle {vehicle_id!r} not found in fleet {fleet!r}")
    return row


Vehicle = Annotated[sa.Row[Any], Depends(get_vehicle)]


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch milliseconds from ``value``: an integer (epoch ms) or ISO 8601 (UTC if no offset)."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        ms = int(text)
    else:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise HTTPException(
                422,
                f"query parameter {name!r}: expected ISO 8601 (2024-05-01T12:00:00Z) or epoch "
                f"milliseconds, got {value!r}",
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ms = int(dt.timestamp() * 1000)
    if not 0 <= ms < 2**62:
        raise HTTPException(422, f"query parameter {name!r}: {value!r} is out of range")
    return ms


class TimeRange:
    """``?from=&to=`` (inclusive, event time) as epoch ms; 422 when unreadable or reversed."""

    def __init__(
        self,
        from_: Annotated[
            str | None,
            Query(alias="from", description="start, ISO 8601 or epoch ms (inclusive)"),
        ] = None,
        to: Annotated[
            str | None, Query(description="end, ISO 8601 or epoch ms (inclusive)")
        ] = None,
    ) -> None:
        self.start_ms = parse_time(from_, "from")
        self.end_ms = parse_time(to, "to")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms < self.start_ms:
            raise HTTPException(422, "query parameter 'to' is before 'from'")


Range = Annotated[TimeRange, Depends()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


def encode_cursor(*parts: int | str) -> str:
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> tuple[int, ...] | None:
    """The integers in a cursor made by ``encode_cursor``; 400 when it is not one."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = tuple(int(p) for p in raw.split(":"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(400, f"invalid cursor {cursor!r}: use next_cursor as given") from None
    if len(parts) != size:
        raise HTTPException(400, f"invalid cursor {cursor!r}: use next_cursor as given")
    return parts


def decode_text_cursor(cursor: str | None) -> str | None:
    """The text in a cursor made by ``encode_cursor(text)``; 400 when it is not one."""
    if cursor is None or cursor == "":
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(400, f"invalid cursor {cursor!r}: use next_cursor as given") from None
