"""The SQLite outbox: every record is committed here before anything is sent.

Durability policy (see docs/configuration.md, "Outbox"):
- WAL journal with ``synchronous=FULL``: a committed transaction survives a power cut.
- ELD and fault records (lanes ``eld``/``fault``) are committed the moment they are
  appended, together with everything appended before them (order is kept).
- Positions, engine samples and other events are group-committed at most
  ``commit_window_ms`` after they were appended, so a power cut loses at most that
  window of samples. Sequence numbers are given at commit, so a lost window leaves no
  hole in the sequence.
- A record is forgotten (or, with ``keep_sent_s``, marked sent) only after the broker
  acknowledged the message that carried it.
- Above ``max_bytes`` of live data, samples are thinned (track shape and extremes
  kept), then the oldest samples and events dropped; ELD and fault records never are.
  Every eviction is recorded in ``evictions`` and reported as an ``outbox_evicted``
  event carrying the sequence ranges that will never arrive.

The writer (pipeline thread) and the reader (uplink thread) each hold their own
connection; SQLite's WAL lets them work side by side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from agent.errors import OutboxError
from agent.model import LANE_EVENT, LANE_SAMPLE, LANE_SYSTEM, NEVER_EVICTED
from wire.records import KIND_EVENT, KIND_POSITION

log = logging.getLogger("fleetwire.agent.outbox")
migrations = Migrations("fleetwire-outbox")


@migrations()
def m001_records(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            boot_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            lane TEXT NOT NULL,
            time_ms INTEGER NOT NULL,
            data TEXT NOT NULL,
            sent_ms INTEGER,
            UNIQUE (boot_id, seq)
        )"""
    )
    db.execute("CREATE INDEX records_unsent ON records (id) WHERE sent_ms IS NULL")
    db.execute("CREATE INDEX records_lane ON records (lane, id)")
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["evictions"].create(
        {
            "id": int,
            "at_ms": int,
            "lane": str,
            "reason": str,
            "count": int,
            "first_time_ms": int,
            "last_time_ms": int,
            "seq_spans": str,
        },
        pk="id",
    )


@migrations()
def m002_dead_letters(db: sqlite_utils.Database) -> None:
    # Records the wire codec refused (a bug upstream): kept for a human, never resent.
    db.execute(
        """CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY, boot_id INTEGER, seq INTEGER, kind TEXT, lane TEXT,
            time_ms INTEGER, data TEXT, reason TEXT, at_ms INTEGER
        )"""
    )


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    boot_id: int
    seq: int
    kind: str
    lane: str
    time_ms: int
    data: dict[str, Any]


def _connect(path: Path, busy_timeout_s: float = 10.0) -> sqlite_utils.Database:
    try:
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return sqlite_utils.Database(conn)
    except sqlite3.DatabaseError as exc:
        raise OutboxError(_advice(path, exc)) from exc


def _advice(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (
            f"outbox {path} is locked by another process ({text}); is another fleetwire-agent "
            "running with the same outbox.path? Stop it, or give this one its own file."
        )
    return (
        f"outbox {path} cannot be used ({text}). Run 'fleetwire-agent outbox-recover "
        f"--config ...' to move it aside and salvage the readable records into a new file."
    )


class OutboxWriter:
    """Append records, give them (boot, seq) at commit, keep the file under its cap."""

    def __init__(
        self,
        path: str | Path,
        max_bytes: int = 256 * 1024 * 1024,
        commit_window_ms: int = 1000,
        keep_sent_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.commit_window_s = commit_window_ms / 1000.0
        self.keep_sent_s = keep_sent_s
        self._clock = clock
        self._pending: list[tuple[str, str, int, dict[str, Any]]] = []
        self._pending_since: float | None = None
        self.db = _connect(self.path, busy_timeout_s)
        try:
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            migrations.apply(self.db)
            self.boot_id = self._next_boot_id()
            row = self.db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM records WHERE boot_id = ?", [self.boot_id]
            ).fetchone()
            self._seq = int(row[0])
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise OutboxError(_advice(self.path, exc)) from exc
        self.committed = 0
        self.evicted = 0

    def _next_boot_id(self) -> int:
        # Unix seconds at start, and always above every boot id this device used before:
        # the outbox's own record, a copy kept beside it (which outlives a damaged outbox)
        # and the boot ids of records still in it. A boot id the cloud has seen would make
        # it drop the new records as duplicates.
        row = self.db.execute("SELECT value FROM meta WHERE key = 'boot_id'").fetchone()
        newest = self.db.execute("SELECT COALESCE(MAX(boot_id), 0) FROM records").fetchone()[0]
        last = max(int(row[0]) if row else 0, int(newest), read_boot_file(self.path))
        boot_id = max(last + 1, int(time.time()))
        write_boot_file(self.path, boot_id)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('boot_id', ?)", [str(boot_id)]
        )
        self.db.execute("COMMIT")
        return boot_id

    # ------------------------------------------------------------ appending
    def append(self, kind: str, time_ms: int, data: dict[str, Any], lane: str) -> None:
        """Queue one record; ELD/fault records (and all before them) commit at once."""
        self._pending.append((kind, lane, int(time_ms), data))
        if self._pending_since is None:
            self._pending_since = self._clock()
        if lane in NEVER_EVICTED:
            self.flush()

    def due(self) -> float | None:
        """Seconds until the pending group must be committed (None: nothing pending)."""
        if self._pending_since is None:
            return None
        return max(0.0, self._pending_since + self.commit_window_s - self._clock())

    def maybe_flush(self) -> int:
        due = self.due()
        return self.flush() if due is not None and due <= 0 else 0

    def flush(self) -> int:
        """Commit everything pending in one transaction; returns how many rows."""
        if not self._pending:
            return 0
        rows = []
        seq = self._seq
        for kind, lane, time_ms, data in self._pending:
            seq += 1
            rows.append(
                (self.boot_id, seq, kind, lane, time_ms, json.dumps(data, separators=(",", ":")))
            )
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.conn.executemany(
                "INSERT INTO records (boot_id, seq, kind, lane, time_ms, data) VALUES (?,?,?,?,?,?)",
                rows,
            )
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise OutboxError(_advice(self.path, exc)) from exc
        self._seq = seq
        self._pending.clear()
        self._pending_since = None
        self.committed += len(rows)
        try:
            self.enforce_cap()
        except sqlite3.DatabaseError as exc:
            # The rows are committed; the cap is enforced again after the next commit.
            self._rollback()
            log.warning("event=outbox_cap_deferred error=%r", str(exc))
        return len(rows)

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")

    # ------------------------------------------------------------ the disk cap
    def used_bytes(self) -> int:
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def enforce_cap(self) -> int:
        """Bring live data under ``max_bytes``; returns how many records were evicted."""
        if self.used_bytes() <= self.max_bytes:
            return 0
        evicted = 0
        if self.keep_sent_s >= 0:
            self.db.execute("DELETE FROM records WHERE sent_ms IS NOT NULL")
        for step in (self._thin_samples, self._drop_oldest_samples, self._drop_oldest_events):
            while self.used_bytes() > self.max_bytes:
                n = step()
                if not n:
                    break
                evicted += n
        self.evicted += evicted
        return evicted

    def _oldest(self, lanes: Iterable[str], limit: int) -> list[sqlite3.Row]:
        marks = ",".join("?" for _ in lanes)
        return self.db.execute(
            f"SELECT id, boot_id, seq, kind, lane, time_ms, data FROM records "
            f"WHERE sent_ms IS NULL AND lane IN ({marks}) ORDER BY id LIMIT ?",
            [*lanes, limit],
        ).fetchall()

    def _chunk(self) -> int:
        total = self.db.execute("SELECT COUNT(*) FROM records WHERE sent_ms IS NULL").fetchone()[0]
        return max(64, total // 20)

    def _thin_samples(self) -> int:
        """One pass over all unsent samples, oldest first, chunk by chunk, stopping as
        soon as the data fits; each chunk loses about half of its unremarkable rows."""
        evicted, after = 0, 0
        while self.used_bytes() > self.max_bytes:
            rows = self.db.execute(
                "SELECT id, boot_id, seq, kind, lane, time_ms, data FROM records "
                "WHERE sent_ms IS NULL AND lane = ? AND id > ? ORDER BY id LIMIT ?",
                [LANE_SAMPLE, after, self._chunk()],
            ).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            victims = thin_selection([(r[0], r[3], json.loads(r[6])) for r in rows])
            evicted += self._evict(rows, victims, "thinned")
        return evicted

    def _drop_oldest_samples(self) -> int:
        rows = self._oldest([LANE_SAMPLE], self._chunk())
        return self._evict(rows, {r[0] for r in rows}, "dropped")

    def _drop_oldest_events(self) -> int:
        rows = self._oldest([LANE_EVENT], self._chunk())
        return self._evict(rows, {r[0] for r in rows}, "dropped")

    def _evict(self, rows: list[Any], victims: set[int], reason: str) -> int:
        gone = [r for r in rows if r[0] in victims]
        if not gone:
            return 0
        now_ms = int(time.time() * 1000)
        ranges = seq_spans((r[1], r[2]) for r in gone)
        by_lane: dict[str, int] = {}
        for r in gone:
            by_lane[r[4]] = by_lane.get(r[4], 0) + 1
        self.db.execute("BEGIN IMMEDIATE")
        self.db.conn.executemany("DELETE FROM records WHERE id = ?", [(r[0],) for r in gone])
        for lane, count in by_lane.items():
            self.db.execute(
                "INSERT INTO evictions (at_ms, lane, reason, count, first_time_ms, last_time_ms,"
                " seq_spans) VALUES (?,?,?,?,?,?,?)",
                [now_ms, lane, reason, count, gone[0][5], gone[-1][5], json.dumps(ranges)],
            )
        # The report is itself a record (committed with the deletion), so the cloud can
        # tell evicted from missing.
        self._seq += 1
        report = {
            "name": "outbox_evicted",
            "reason": reason,
            "count": len(gone),
            "first_time_ms": gone[0][5],
            "last_time_ms": gone[-1][5],
            "seq_spans": ranges,
        }
        self.db.execute(
            "INSERT INTO records (boot_id, seq, kind, lane, time_ms, data) VALUES (?,?,?,?,?,?)",
            [self.boot_id, self._seq, KIND_EVENT, LANE_SYSTEM, now_ms, json.dumps(report)],
        )
        self.db.execute("COMMIT")
        return len(gone)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()


def seq_spans(keys: Iterable[tuple[int, int]]) -> list[list[int]]:
    """[(boot, seq), ...] -> [[boot, first, last], ...], one span per boot.

    Thinning removes every other row, so exact runs would be as long as the rows
    themselves; a span is enough for the cloud: a missing sequence number inside an
    eviction span was evicted, not lost."""
    spans: dict[int, list[int]] = {}
    for boot, seq in keys:
        span = spans.setdefault(boot, [boot, seq, seq])
        span[1], span[2] = min(span[1], seq), max(span[2], seq)
    return [spans[b] for b in sorted(spans)]


def thin_selection(rows: list[tuple[int, str, dict[str, Any]]]) -> set[int]:
    """Pick about half of the rows to drop while keeping the track's shape and extremes.

    Positions: a fix is kept when it turns the track (heading change) or is a speed
    extreme; among the rest every second one goes. Engine samples: a sample holding a
    local minimum or maximum of any numeric value is kept; every second of the rest goes.
    """
    victims: set[int] = set()
    by_kind: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row_id, kind, data in rows:
        by_kind.setdefault(kind, []).append((row_id, data))
    for kind, items in by_kind.items():
        keep = {items[0][0], items[-1][0]}
        for i in range(1, len(items) - 1):
            prev, cur, nxt = items[i - 1][1], items[i][1], items[i + 1][1]
            if kind == KIND_POSITION:
                if _turns(prev, cur, nxt) or _extreme(prev, cur, nxt, "speed_mps"):
                    keep.add(items[i][0])
            elif any(_extreme(prev, cur, nxt, key) for key in cur):
                keep.add(items[i][0])
        toggle = False
        for row_id, _ in items:
            if row_id in keep:
                continue
            if toggle:
                victims.add(row_id)
            toggle = not toggle
    return victims


def _extreme(prev: dict[str, Any], cur: dict[str, Any], nxt: dict[str, Any], key: str) -> bool:
    a, b, c = prev.get(key), cur.get(key), nxt.get(key)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b, c)):
        return False
    return (b > a and b > c) or (b < a and b < c)  # type: ignore[operator]


def _turns(
    prev: dict[str, Any], cur: dict[str, Any], nxt: dict[str, Any], min_deg: float = 15.0
) -> bool:
    try:
        h1 = math.atan2(cur["lon"] - prev["lon"], cur["lat"] - prev["lat"])
        h2 = math.atan2(nxt["lon"] - cur["lon"], nxt["lat"] - cur["lat"])
    except (KeyError, TypeError):
        return False
    diff = abs(math.degrees(h2 - h1)) % 360
    return min(diff, 360 - diff) >= min_deg


class OutboxReader:
    """The uplink's view: unsent rows in order, and marking rows sent after PUBACK."""

    def __init__(self, path: str | Path, keep_sent_s: float = 0.0) -> None:
        self.path = Path(path)
        self.keep_sent_s = keep_sent_s
        self.db = _connect(self.path)

    def unsent(self, after_id: int, limit: int, before_id: int | None = None) -> list[OutboxRow]:
        sql = (
            "SELECT id, boot_id, seq, kind, lane, time_ms, data FROM records "
            "WHERE sent_ms IS NULL AND id > ?"
        )
        args: list[Any] = [after_id]
        if before_id is not None:
            sql += " AND id <= ?"
            args.append(before_id)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        try:
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise OutboxError(_advice(self.path, exc)) from exc
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def newest_unsent(self, kind: str) -> OutboxRow | None:
        row = self.db.execute(
            "SELECT id, boot_id, seq, kind, lane, time_ms, data FROM records "
            "WHERE sent_ms IS NULL AND kind = ? ORDER BY time_ms DESC, id DESC LIMIT 1",
            [kind],
        ).fetchone()
        return (
            OutboxRow(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))
            if row
            else None
        )

    def max_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0])

    def mark_sent(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        self.db.execute("BEGIN IMMEDIATE")
        if self.keep_sent_s > 0:
            now_ms = int(time.time() * 1000)
            self.db.conn.executemany(
                "UPDATE records SET sent_ms = ? WHERE id = ?", [(now_ms, i) for i in ids]
            )
            self.db.execute(
                "DELETE FROM records WHERE sent_ms IS NOT NULL AND sent_ms < ?",
                [now_ms - int(self.keep_sent_s * 1000)],
            )
        else:
            self.db.conn.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in ids])
        self.db.execute("COMMIT")

    def dead_letter(self, row_id: int, reason: str) -> None:
        """Move a record the codec cannot carry out of the way (kept in ``dead_letters``)."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "INSERT INTO dead_letters (id, boot_id, seq, kind, lane, time_ms, data, reason, at_ms) "
            "SELECT id, boot_id, seq, kind, lane, time_ms, data, ?, ? FROM records WHERE id = ?",
            [reason, int(time.time() * 1000), row_id],
        )
        self.db.execute("DELETE FROM records WHERE id = ?", [row_id])
        self.db.execute("COMMIT")

    def stats(self) -> dict[str, Any]:
        lanes = dict(
            self.db.execute(
                "SELECT lane, COUNT(*) FROM records WHERE sent_ms IS NULL GROUP BY lane"
            ).fetchall()
        )
        oldest = self.db.execute(
            "SELECT MIN(time_ms) FROM records WHERE sent_ms IS NULL"
        ).fetchone()[0]
        evicted = self.db.execute("SELECT COALESCE(SUM(count), 0) FROM evictions").fetchone()[0]
        dead = self.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        return {
            "dead_letters": int(dead),
            "unsent_by_lane": lanes,
            "unsent": sum(lanes.values()),
            "oldest_unsent_ms": oldest,
            "evicted_total": int(evicted),
        }

    def close(self) -> None:
        self.db.close()


def _boot_file(path: Path) -> Path:
    return path.with_name(path.name + ".boot")


def read_boot_file(path: Path) -> int:
    """The last boot id written beside the outbox (0 when there is none or it is unreadable)."""
    try:
        return int(_boot_file(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_boot_file(path: Path, boot_id: int) -> None:
    """Durably record ``boot_id`` beside the outbox (write, fsync, rename)."""
    target = _boot_file(path)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(f"{boot_id}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def recover(path: str | Path) -> tuple[Path, int]:
    """Move a damaged outbox aside and copy every readable record into a fresh one.

    Returns (where the damaged file went, how many records were salvaged).
    """
    path = Path(path)
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    shutil.move(str(path), aside)
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            shutil.move(str(side), str(aside) + suffix)
    salvaged: list[tuple[Any, ...]] = []
    last_boot = 0
    try:
        old = sqlite3.connect(str(aside))
        with contextlib.suppress(sqlite3.DatabaseError, TypeError):
            last_boot = int(old.execute("SELECT value FROM meta WHERE key='boot_id'").fetchone()[0])
        try:
            max_id = old.execute("SELECT MAX(id) FROM records").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            max_id = 0
        for row_id in range(1, max_id + 1):
            try:
                row = old.execute(
                    "SELECT boot_id, seq, kind, lane, time_ms, data FROM records "
                    "WHERE id = ? AND sent_ms IS NULL",
                    [row_id],
                ).fetchone()
            except sqlite3.DatabaseError:
                continue
            if row:
                salvaged.append(tuple(row))
        old.close()
    except sqlite3.DatabaseError:
        pass
    last_boot = max([last_boot, read_boot_file(path), *(row[0] for row in salvaged)])
    db = _connect(path)
    migrations.apply(db)
    db.execute("BEGIN IMMEDIATE")
    db.conn.executemany(
        "INSERT OR IGNORE INTO records (boot_id, seq, kind, lane, time_ms, data) VALUES (?,?,?,?,?,?)",
        salvaged,
    )
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('boot_id', ?)", [str(last_boot)])
    db.execute("COMMIT")
    db.close()
    return aside, len(salvaged)
