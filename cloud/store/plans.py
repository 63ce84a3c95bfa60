"""Route plans and their adherence results (report, stops, ETA, events) in the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cloud.db.tables import positions
from cloud.db.tables_plans import route_events, route_results, routes
from cloud.store._sql import upsert

ACTIVE = "active"
CANCELLED = "cancelled"


def create_route(
    conn: sa.Connection,
    fleet_id: str,
    route_id: str,
    *,
    name: str,
    device_id: str,
    driver_id: str | None,
    plan: dict[str, Any],
    start_ms: int,
    end_ms: int,
    now_ms: int,
) -> None:
    conn.execute(
        sa.insert(routes).values(
            fleet_id=fleet_id,
            route_id=route_id,
            name=name,
            device_id=device_id,
            driver_id=driver_id,
            status=ACTIVE,
            start_ms=start_ms,
            end_ms=end_ms,
            plan=plan,
            version=1,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
    )


def update_route(
    conn: sa.Connection,
    fleet_id: str,
    route_id: str,
    *,
    name: str,
    device_id: str,
    driver_id: str | None,
    plan: dict[str, Any],
    start_ms: int,
    end_ms: int,
    now_ms: int,
) -> None:
    """Replace the plan of a route; its version goes up by one."""
    r = routes
    conn.execute(
        r.update()
        .where(r.c.fleet_id == fleet_id, r.c.route_id == route_id)
        .values(
            name=name,
            device_id=device_id,
            driver_id=driver_id,
            plan=plan,
            start_ms=start_ms,
            end_ms=end_ms,
            version=r.c.version + 1,
            updated_ms=now_ms,
        )
    )


def cancel_route(conn: sa.Connection, fleet_id: str, route_id: str, now_ms: int) -> None:
    r = routes
    conn.execute(
        r.update()
        .where(r.c.fleet_id == fleet_id, r.c.route_id == route_id, r.c.status != CANCELLED)
        .values(status=CANCELLED, cancelled_ms=now_ms, updated_ms=now_ms)
    )


def get_route(conn: sa.Connection, fleet_id: str, route_id: str) -> sa.Row[Any] | None:
    r = routes
    return conn.execute(
        sa.select(r).where(r.c.fleet_id == fleet_id, r.c.route_id == route_id)
    ).first()


def routes_page(
    conn: sa.Connection,
    fleet_id: str,
    limit: int,
    *,
    device_id: str | None = None,
    status: str | None = None,
    start_from_ms: int | None = None,
    start_to_ms: int | None = None,
    after: tuple[int, str] | None = None,
) -> list[sa.Row[Any]]:
    """Routes by (scheduled start, id), with their result's state and score when computed."""
    r, res = routes, route_results
    q = (
        sa.select(r, res.c.state, res.c.report)
        .select_from(
            r.outerjoin(
                res, sa.and_(res.c.fleet_id == r.c.fleet_id, res.c.route_id == r.c.route_id)
            )
        )
        .where(r.c.fleet_id == fleet_id)
    )
    if device_id is not None:
        q = q.where(r.c.device_id == device_id)
    if status is not None:
        q = q.where(r.c.status == status)
    if start_from_ms is not None:
        q = q.where(r.c.start_ms >= start_from_ms)
    if start_to_ms is not None:
        q = q.where(r.c.start_ms <= start_to_ms)
    if after is not None:
        q = q.where(sa.tuple_(r.c.start_ms, r.c.route_id) > sa.tuple_(*after))
    return list(conn.execute(q.order_by(r.c.start_ms, r.c.route_id).limit(limit)))


def routes_to_follow(
    conn: sa.Connection, fleet_id: str, device_id: str, start_ms: int, end_ms: int
) -> list[sa.Row[Any]]:
    """Active routes of the device whose span overlaps [start_ms, end_ms], plus started
    ones whose result is not final yet (newer data moves their event-time clock on)."""
    r, res = routes, route_results
    q = (
        sa.select(r)
        .select_from(
            r.outerjoin(
                res, sa.and_(res.c.fleet_id == r.c.fleet_id, res.c.route_id == r.c.route_id)
            )
        )
        .where(
            r.c.fleet_id == fleet_id,
            r.c.device_id == device_id,
            r.c.status == ACTIVE,
            r.c.start_ms <= end_ms,
            sa.or_(r.c.end_ms >= start_ms, res.c.final.is_(None), res.c.final.is_(False)),
        )
        .order_by(r.c.start_ms, r.c.route_id)
    )
    return list(conn.execute(q))


def newest_position_ms(conn: sa.Connection, fleet_id: str, device_id: str) -> int | None:
    """Event time of the device's newest stored position (any quality), or None."""
    p = positions
    return conn.execute(
        sa.select(sa.func.max(p.c.time_ms)).where(
            p.c.fleet_id == fleet_id, p.c.device_id == device_id
        )
    ).scalar()


def get_result(conn: sa.Connection, fleet_id: str, route_id: str) -> sa.Row[Any] | None:
    t = route_results
    return conn.execute(
        sa.select(t).where(t.c.fleet_id == fleet_id, t.c.route_id == route_id)
    ).first()


def save_result(conn: sa.Connection, fleet_id: str, route_id: str, **values: Any) -> None:
    """Insert or replace the route's result (version, state, as_of_ms, computed_ms, final,
    report, stops, eta, alerts)."""
    stmt = upsert(conn, route_results).values(fleet_id=fleet_id, route_id=route_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["fleet_id", "route_id"],
        set_={k: getattr(stmt.excluded, k) for k in values},
    )
    conn.execute(stmt)


def set_result_alerts(
    conn: sa.Connection, fleet_id: str, route_id: str, alerts: dict[str, Any]
) -> None:
    t = route_results
    conn.execute(
        t.update().where(t.c.fleet_id == fleet_id, t.c.route_id == route_id).values(alerts=alerts)
    )


def replace_events(
    conn: sa.Connection, fleet_id: str, route_id: str, events: Sequence[dict[str, Any]]
) -> None:
    """The route's events become exactly ``events`` (key, time_ms, kind, stop_index, data)."""
    t = route_events
    conn.execute(t.delete().where(t.c.fleet_id == fleet_id, t.c.route_id == route_id))
    if events:
        conn.execute(
            sa.insert(t), [{"fleet_id": fleet_id, "route_id": route_id, **e} for e in events]
        )


def events_page(
    conn: sa.Connection,
    fleet_id: str,
    route_id: str,
    limit: int,
    *,
    kinds: Sequence[str] = (),
    after: tuple[int, str] | None = None,
) -> list[sa.Row[Any]]:
    """The route's events by (time_ms, key)."""
    t = route_events
    q = sa.select(t).where(t.c.fleet_id == fleet_id, t.c.route_id == route_id)
    if kinds:
        q = q.where(t.c.kind.in_(list(kinds)))
    if after is not None:
        q = q.where(sa.tuple_(t.c.time_ms, t.c.key) > sa.tuple_(*after))
    return list(conn.execute(q.order_by(t.c.time_ms, t.c.key).limit(limit)))
