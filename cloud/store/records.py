"""Raw records: idempotent insert by (fleet, device, boot, seq), queries by kind, sequence gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.db.tables import events, positions, records
from cloud.store._sql import upsert
from wire import Record

_POSITION_COLUMNS = ("lat", "lon", "alt_m", "speed_mps", "course_deg", "sats", "hdop", "valid")


def insert_records(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    boot_id: int,
    batch: Sequence[Record],
    received_ms: int,
) -> list[Record]:
    """Insert records not stored yet; return the ones that were new (duplicates are skipped).

    Positions and events of the new records are also written to their query tables.
    """
    if not batch:
        return []
    rows = [
        {
            "fleet_id": fleet_id,
            "device_id": device_id,
            "boot_id": boot_id,
            "seq": rec.seq,
            "kind": rec.kind,
            "time_ms": rec.time_ms,
            "received_ms": received_ms,
            "data": rec.data,
        }
        for rec in batch
    ]
    stmt = (
        upsert(conn, records)
        .on_conflict_do_nothing(index_elements=["fleet_id", "device_id", "boot_id", "seq"])
        .returning(records.c.seq)
    )
    new_seqs = {row.seq for row in conn.execute(stmt, rows)}
    new = [rec for rec in batch if rec.seq in new_seqs]
    key = {"fleet_id": fleet_id, "device_id": device_id, "boot_id": boot_id}
    pos_rows = [
        {**key, "seq": r.seq, "time_ms": r.time_ms, "data": r.data}
        | {col: r.data.get(col) for col in _POSITION_COLUMNS}
        for r in new
        if r.kind == "position"
    ]
    if pos_rows:
        conn.execute(sa.insert(positions), pos_rows)
    ev_rows = [
        {
            **key,
            "seq": r.seq,
            "time_ms": r.time_ms,
            "name": str(r.data.get("name", "")),
            "data": {k: v for k, v in r.data.items() if k != "name"},
        }
        for r in new
        if r.kind == "event"
    ]
    if ev_rows:
        conn.execute(sa.insert(events), ev_rows)
    return new


def records_between(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    kind: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    after: tuple[int, int, int] | None = None,
    limit: int | None = None,
) -> list[sa.Row[Any]]:
    """Records of one kind with ``start_ms <= time_ms <= end_ms``, ordered by (time, boot, seq).

    ``after`` is a keyset cursor (time_ms, boot_id, seq): only rows strictly after it.
    """
    t = records
    q = sa.select(t.c.boot_id, t.c.seq, t.c.time_ms, t.c.received_ms, t.c.data).where(
        t.c.fleet_id == fleet_id, t.c.device_id == device_id, t.c.kind == kind
    )
    if start_ms is not None:
        q = q.where(t.c.time_ms >= start_ms)
    if end_ms is not None:
        q = q.where(t.c.time_ms <= end_ms)
    if after is not None:
        q = q.where(sa.tuple_(t.c.time_ms, t.c.boot_id, t.c.seq) > sa.tuple_(*after))
    q = q.order_by(t.c.time_ms, t.c.boot_id, t.c.seq)
    if limit is not None:
        q = q.limit(limit)
    return list(conn.execute(q))


@dataclass(frozen=True, slots=True)
class BootSeqs:
    """What one boot of a device delivered: sequence span, count and the missing ranges."""

    boot_id: int
    first_seq: int
    last_seq: int
    received: int
    missing: list[tuple[int, int]]  # inclusive (from_seq, to_seq) ranges not received
    evicted: list[tuple[int, int]]  # ranges the agent reported thinned away (never coming)


def sequence_gaps(
    conn: sa.Connection, fleet_id: str, device_id: str, max_ranges: int = 1000
) -> list[BootSeqs]:
    """Per boot, the sequence ranges still missing (sequences start at 1 on every boot)."""
    t = records
    scope = (t.c.fleet_id == fleet_id, t.c.device_id == device_id)
    spans = conn.execute(
        sa.select(
            t.c.boot_id,
            sa.func.min(t.c.seq).label("first"),
            sa.func.max(t.c.seq).label("last"),
            sa.func.count().label("n"),
        )
        .where(*scope)
        .group_by(t.c.boot_id)
        .order_by(t.c.boot_id)
    ).all()
    nxt = sa.func.lead(t.c.seq).over(partition_by=t.c.boot_id, order_by=t.c.seq)
    inner = sa.select(t.c.boot_id, t.c.seq, nxt.label("next_seq")).where(*scope).subquery()
    holes = conn.execute(
        sa.select(inner.c.boot_id, inner.c.seq, inner.c.next_seq)
        .where(inner.c.next_seq > inner.c.seq + 1)
        .order_by(inner.c.boot_id, inner.c.seq)
        .limit(max_ranges)
    ).all()
    by_boot: dict[int, list[tuple[int, int]]] = {}
    for h in holes:
        by_boot.setdefault(h.boot_id, []).append((h.seq + 1, h.next_seq - 1))
    evicted_spans = _evicted_spans(conn, fleet_id, device_id)
    out = []
    for s in spans:
        holes_of_boot = by_boot.get(s.boot_id, [])
        if s.first > 1:
            holes_of_boot = [(1, s.first - 1), *holes_of_boot]
        missing, evicted = split_evicted(holes_of_boot, evicted_spans.get(s.boot_id, []))
        out.append(BootSeqs(s.boot_id, s.first, s.last, s.n, missing, evicted))
    return out


def _evicted_spans(
    conn: sa.Connection, fleet_id: str, device_id: str
) -> dict[int, list[tuple[int, int]]]:
    """Sequence spans the agent's outbox reported evicting (``outbox_evicted`` events)."""
    rows = conn.execute(
        sa.select(events.c.data).where(
            events.c.fleet_id == fleet_id,
            events.c.device_id == device_id,
            events.c.name == "outbox_evicted",
        )
    ).all()
    spans: dict[int, list[tuple[int, int]]] = {}
    for (data,) in rows:
        for span in (data or {}).get("seq_spans") or []:
            if isinstance(span, list) and len(span) == 3 and all(isinstance(v, int) for v in span):
                spans.setdefault(span[0], []).append((span[1], span[2]))
    return spans


def split_evicted(
    holes: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split hole ranges into (still missing, evicted on the device) by the eviction spans."""
    missing: list[tuple[int, int]] = []
    evicted: list[tuple[int, int]] = []
    for lo, hi in holes:
        cursor = lo
        for s_lo, s_hi in sorted(spans):
            if s_hi < cursor or s_lo > hi:
                continue
            if s_lo > cursor:
                missing.append((cursor, s_lo - 1))
            evicted.append((max(cursor, s_lo), min(hi, s_hi)))
            cursor = min(hi, s_hi) + 1
            if cursor > hi:
                break
        if cursor <= hi:
            missing.append((cursor, hi))
    return missing, evicted


def last_received_ms(conn: sa.Connection) -> int | None:
    """Newest received time over all fleets (health check), or None when nothing arrived."""
    from cloud.db.tables import vehicles

    return conn.execute(sa.select(sa.func.max(vehicles.c.last_seen_ms))).scalar()
