"""Handle one MQTT message: decode, check, store idempotently, run processors, commit.

No MQTT library here: the consumer passes ``(topic, payload)`` and acknowledges the
message once ``handle`` returns. ``handle`` returns normally for every message it has
dealt with, including ones it rejected (they go to the quarantine table with the
reason); it raises ``DatabaseUnavailable`` only when nothing could be written, so the
message stays unacknowledged and the broker delivers it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud.ingest.validate import record_problem, value_problem
from cloud.logs import kv
from cloud.metrics import Metrics
from cloud.processors import PROCESSORS, Processor, run_processors
from cloud.store import quarantine as q_store
from cloud.store import records as rec_store
from cloud.store import vehicles as veh_store
from wire import Batch, WireError, decode_batch, parse_topic

log = logging.getLogger(__name__)

STORED = "stored"  # at least one record of the batch was new
DUPLICATE = "duplicate"  # every record was already stored
QUARANTINED = "quarantined"  # unusable message kept with the reason
REJECTED = "rejected"  # envelope device differs from the topic device
STATUS = "status"  # a status message was stored
IGNORED = "ignored"  # nothing to do (empty retained status, older status)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or refused to write; do not acknowledge."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What ``IngestHandler.handle`` did with one message."""

    outcome: str
    fleet_id: str = ""
    device_id: str = ""
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    invalid: int = 0
    reason: str = ""
    window: tuple[int, int] | None = None  # event-time window (UTC ms) processed
    failed_processors: list[str] = field(default_factory=list)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class IngestHandler:
    """Stores messages from ``fw/v1/{fleet}/{device}/up`` and ``.../status`` into ``engine``."""

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics | None = None,
        processors: tuple[Processor, ...] = PROCESSORS,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.processors = processors
        self.clock_ms = clock_ms

    # ------------------------------------------------------------------ entry point
    def handle(self, topic: str, payload: bytes) -> IngestResult:
        """Deal with one message; raises ``DatabaseUnavailable`` only."""
        self.metrics.inc("messages")
        received_ms = self.clock_ms()
        try:
            where = parse_topic(topic)
        except WireError as exc:
            return self._quarantine("", "", topic, payload, f"bad topic: {exc}", received_ms)
        try:
            if where.channel == "up":
                return self._handle_batch(where.fleet, where.device, topic, payload, received_ms)
            if where.channel == "status":
                return self._handle_status(where.fleet, where.device, topic, payload, received_ms)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from exc
            # The database refused this data (e.g. a value it cannot represent): keep it aside.
            reason = f"database refused the message: {type(exc.orig).__name__}: {exc.orig}"
            return self._quarantine(where.fleet, where.device, topic, payload, reason, received_ms)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            # A bug must neither crash the consumer nor block it on one poison message.
            log.exception(kv("ingest_internal_error", topic=topic, bytes=len(payload)))
            reason = f"internal error: {type(exc).__name__}: {exc}"
            return self._quarantine(where.fleet, where.device, topic, payload, reason, received_ms)
        return self._quarantine(
            where.fleet,
            where.device,
            topic,
            payload,
            f"channel {where.channel!r} is not ingested",
            received_ms,
        )

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        self.metrics.inc("errors")
        log.warning(kv("database_unavailable", error=str(exc).splitlines()[0]))
        return DatabaseUnavailable(str(exc).splitlines()[0])

    # ------------------------------------------------------------------ batches
    def _handle_batch(
        self, fleet: str, device: str, topic: str, payload: bytes, received_ms: int
    ) -> IngestResult:
        try:
            batch = decode_batch(payload)
        except WireError as exc:
            return self._quarantine(
                fleet, device, topic, payload, f"undecodable: {exc}", received_ms
            )
        if batch.device_id != device:
            self.metrics.inc("rejected")
            reason = f"device mismatch: topic says {device!r}, envelope says {batch.device_id!r}"
            log.warning(kv("batch_rejected", fleet=fleet, device=device, reason=reason))
            self._quarantine(fleet, device, topic, payload, reason, received_ms)
            return IngestResult(REJECTED, fleet, device, len(batch.records), reason=reason)
        if batch.boot_id > 2**63 - 1:
            return self._quarantine(
                fleet, device, topic, payload, "boot id outside 64 bits", received_ms
            )
        return self._store_batch(fleet, device, topic, payload, batch, received_ms)

    def _store_batch(
        self, fleet: str, device: str, topic: str, payload: bytes, batch: Batch, received_ms: int
    ) -> IngestResult:
        good, problems = [], []
        seen: set[int] = set()
        for rec in batch.records:
            problem = record_problem(rec)
            if problem is None and rec.seq in seen:
                problem = "sequence number repeated in the batch (first kept)"
            if problem:
                problems.append(f"seq {rec.seq}: {problem}")
            else:
                seen.add(rec.seq)
                good.append(rec)
        if not good:
            return self._quarantine(
                fleet,
                device,
                topic,
                payload,
                "no valid record: " + "; ".join(problems[:20]),
                received_ms,
            )
        with self.engine.begin() as conn:
            # The vehicle row is written first: on PostgreSQL its row lock serialises
            # concurrent workers handling the same device.
            veh_store.touch_vehicle(
                conn,
                fleet,
                device,
                received_ms,
                boot_id=batch.boot_id,
                event_ms=max(r.time_ms for r in good),
                sent_ms=batch.sent_ms or None,
            )
            new = rec_store.insert_records(conn, fleet, device, batch.boot_id, good, received_ms)
            window = None
            failed: list[str] = []
            if new:
                window = (min(r.time_ms for r in new), max(r.time_ms for r in new))
                failed = run_processors(
                    conn, fleet, device, *window, received_ms, processors=self.processors
                )
            if problems:
                q_store.quarantine_message(
                    conn,
                    fleet,
                    device,
                    topic,
                    payload,
                    f"{len(problems)} invalid record(s) skipped: " + "; ".join(problems[:20]),
                    received_ms,
                )
        inserted, dups = len(new), len(good) - len(new)
        m = self.metrics
        m.inc("records_inserted", inserted)
        m.inc("records_duplicate", dups)
        if problems:
            m.inc("records_invalid", len(problems))
            m.inc("quarantined")
        if failed:
            m.inc("processor_failures", len(failed))
        if inserted:
            m.inc("batches_stored")
        log.debug(
            kv(
                "batch",
                fleet=fleet,
                device=device,
                boot=batch.boot_id,
                records=len(batch.records),
                inserted=inserted,
                duplicates=dups,
                invalid=len(problems),
            )
        )
        return IngestResult(
            STORED if inserted else DUPLICATE,
            fleet,
            device,
            records=len(batch.records),
            inserted=inserted,
            duplicates=dups,
            invalid=len(problems),
            reason="; ".join(problems[:20]),
            window=window,
            failed_processors=failed,
        )

    # ------------------------------------------------------------------ status
    def _handle_status(
        self, fleet: str, device: str, topic: str, payload: bytes, received_ms: int
    ) -> IngestResult:
        if not payload:
            return IngestResult(IGNORED, fleet, device, reason="empty status (retained cleared)")
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            return self._quarantine(
                fleet, device, topic, payload, f"status not JSON: {exc}", received_ms
            )
        state = data.get("state") if isinstance(data, dict) else None
        if not isinstance(state, str) or not 1 <= len(state) <= 32:
            return self._quarantine(
                fleet, device, topic, payload, "status without a string 'state'", received_ms
            )
        time_ms = data.get("time_ms")
        if not isinstance(time_ms, int) or isinstance(time_ms, bool) or not 0 <= time_ms < 2**63:
            time_ms = None
        if _bad_json(data):
            return self._quarantine(
                fleet,
                device,
                topic,
                payload,
                "status holds values that cannot be stored",
                received_ms,
            )
        with self.engine.begin() as conn:
            veh_store.touch_vehicle(conn, fleet, device, received_ms)
            changed = veh_store.set_status(conn, fleet, device, state, data, received_ms, time_ms)
        if not changed:
            return IngestResult(IGNORED, fleet, device, reason="older than the stored status")
        self.metrics.inc("status_messages")
        log.info(kv("status", fleet=fleet, device=device, state=state))
        return IngestResult(STATUS, fleet, device)

    # ------------------------------------------------------------------ quarantine
    def _quarantine(
        self, fleet: str, device: str, topic: str, payload: bytes, reason: str, received_ms: int
    ) -> IngestResult:
        try:
            with self.engine.begin() as conn:
                q_store.quarantine_message(conn, fleet, device, topic, payload, reason, received_ms)
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from exc
        self.metrics.inc("quarantined")
        log.warning(kv("quarantined", fleet=fleet, device=device, topic=topic, reason=reason))
        return IngestResult(QUARANTINED, fleet, device, reason=reason)


def _bad_json(data: object) -> bool:
    return value_problem(data) is not None
