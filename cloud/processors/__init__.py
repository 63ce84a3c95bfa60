"""The cloud's processors, in the order they run for a device's dirty event-time window.

A processor is ``process(conn, fleet_id, device_id, window_start_ms, window_end_ms)``: it
recomputes its results for that window from stored records, so data arriving late or
twice gives the same result as data arriving live. Each runs in its own SAVEPOINT: a
failing processor is logged, its window kept in ``dirty_windows`` for a retry, and the
batch (already stored) and the other processors go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from cloud.logs import kv
from cloud.processors import adherence, duty, latest, maintenance, trips
from cloud.store import dirty

log = logging.getLogger(__name__)

ProcessFn = Callable[[sa.Connection, str, str, int, int], None]


@dataclass(frozen=True, slots=True)
class Processor:
    name: str
    process: ProcessFn


PROCESSORS: tuple[Processor, ...] = (
    Processor("latest", latest.process),
    Processor("trips", trips.process),
    Processor("duty", duty.process),
    Processor("maintenance", maintenance.process),
    Processor("adherence", adherence.process),
)


def run_processors(
    conn: sa.Connection,
    fleet_id: str,
    device_id: str,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    processors: tuple[Processor, ...] = PROCESSORS,
) -> list[str]:
    """Run every processor over [start_ms, end_ms] plus windows left dirty earlier.

    Returns the names of the processors that failed (their windows are kept for retry).
    Must be called inside a transaction.
    """
    pending = dirty.pending_windows(conn, fleet_id, device_id)
    failed: list[str] = []
    for proc in processors:
        windows = [(start_ms, end_ms)] + [
            (w.start_ms, w.end_ms) for w in pending if w.processor == proc.name
        ]
        retried = [w.id for w in pending if w.processor == proc.name]
        lo = min(w[0] for w in windows)
        hi = max(w[1] for w in windows)
        savepoint = conn.begin_nested()
        try:
            proc.process(conn, fleet_id, device_id, lo, hi)
        except sa.exc.OperationalError:
            savepoint.rollback()
            raise  # the database itself is in trouble: let the caller not ack
        except Exception as exc:  # one faulty processor must not lose the batch
            savepoint.rollback()
            failed.append(proc.name)
            log.exception(
                kv("processor_failed", processor=proc.name, fleet=fleet_id, device=device_id)
            )
            dirty.clear_windows(conn, fleet_id, retried)
            dirty.mark_dirty(
                conn, fleet_id, device_id, proc.name, lo, hi, f"{type(exc).__name__}: {exc}", now_ms
            )
        else:
            savepoint.commit()
            dirty.clear_windows(conn, fleet_id, retried)
    return failed
