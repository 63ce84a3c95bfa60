"""The agent's pipeline: observations in, records into the outbox.

One thread takes observations from a small bounded queue (fed by the source threads)
and runs them through the stages in order::

    Position: clock -> quality marks -> detectors -> sampling -> outbox
    Signal:   clock -> detectors -> engine sample (changed values, every period) -> outbox
    Event:    (from detectors) -> outbox, in its lane (eld / fault never evicted)

A stage that raises is logged and counted; the observation goes on (one buggy stage
never loses a record). The outbox's group-commit timer is served by the same thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from agent.clock import GnssClock
from agent.errors import OutboxError
from agent.model import LANE_SAMPLE, NEVER_EVICTED, Event, Observation, Position, Signal
from agent.outbox import OutboxWriter
from wire.records import KIND_ENGINE, KIND_EVENT, KIND_POSITION, quantize_position

log = logging.getLogger("fleetwire.agent.pipeline")

_STOP = object()


class EngineSampler:
    """Collects CAN values and records the changed ones at most once per period."""

    def __init__(self, period_s: float) -> None:
        self.period_ms = int(period_s * 1000)
        self._latest: dict[str, Any] = {}
        self._changed: dict[str, Any] = {}
        self._last_emit_ms: int | None = None

    def update(self, sig: Signal) -> dict[str, Any] | None:
        if sig.value is None:
            return None  # "not available" is not a value worth recording
        if self._latest.get(sig.name, _STOP) != sig.value:
            self._latest[sig.name] = sig.value
            self._changed[sig.name] = sig.value
        if not self._changed:
            return None
        if self._last_emit_ms is not None and sig.time_ms - self._last_emit_ms < self.period_ms:
            return None
        self._last_emit_ms = sig.time_ms
        sample, self._changed = self._changed, {}
        return sample


class Pipeline:
    def __init__(
        self,
        outbox_factory: Callable[[], OutboxWriter],
        *,
        clock: GnssClock,
        quality: Callable[[Position], Position] | None = None,
        sampler: Callable[[Position], bool] | None = None,
        detectors: Sequence[Callable[[Observation], list[Event]]] = (),
        engine_period_s: float = 1.0,
        queue_size: int = 4096,
    ) -> None:
        self._outbox_factory = outbox_factory
        self.outbox: OutboxWriter | None = None
        self.clock = clock
        self.quality = quality
        self.sampler = sampler
        self.detectors = list(detectors)
        self.engine = EngineSampler(engine_period_s)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.counters: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.outbox_error: str | None = None  # the last write failure, while it lasts
        self.died: BaseException | None = None

    # ------------------------------------------------------------ feeding
    def submit(self, obs: Observation | Event) -> None:
        """Called from source threads; waits briefly when the queue is full. ELD and
        fault events (e.g. a driver's duty-status change) wait as long as it takes."""
        if isinstance(obs, Event) and obs.lane in NEVER_EVICTED:
            self.queue.put(obs)
            return
        try:
            self.queue.put(obs, timeout=2.0)
        except queue.Full:
            self.counters["queue_full_dropped"] += 1
            log.error("event=queue_full dropped=%s", type(obs).__name__)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what is queued into the outbox, commit, close."""
        if self._thread is None:
            return
        self.queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        try:
            self.outbox = self._outbox_factory()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        outbox = self.outbox
        backoff = 0.5
        try:
            while True:
                due = outbox.due()
                try:
                    item = self.queue.get(timeout=0.5 if due is None else max(due, 0.001))
                except queue.Empty:
                    item = None
                if item is _STOP:
                    break
                try:
                    if item is not None:
                        self.handle(item)
                    outbox.maybe_flush()
                    backoff = 0.5
                    self.outbox_error = None
                except OutboxError as exc:
                    # Disk full, I/O error, a lock held too long: what was appended stays
                    # pending in memory and is committed by a later attempt.
                    self.counters["outbox_errors"] += 1
                    self.outbox_error = str(exc)
                    log.error(
                        "event=outbox_write_failed retry_in_s=%.1f error=%r", backoff, str(exc)
                    )
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
        except BaseException as exc:  # a bug: say so, and let the agent stop (it is restarted)
            self.died = exc
            log.exception("event=pipeline_died")
            raise
        finally:
            with contextlib.suppress(OutboxError):
                outbox.close()

    # ------------------------------------------------------------ stages
    def _stage(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            self.counters[f"stage_error.{name}"] += 1
            log.exception("event=stage_failed stage=%s", name)
            return None

    def handle(self, obs: Observation | Event) -> None:
        assert self.outbox is not None
        if isinstance(obs, Position):
            self.counters["positions_in"] += 1
            data = obs.data
            self.clock.observe_fix(obs.time_ms, bool(data.get("valid")), data.get("flags") or [])
            if self.quality is not None:
                obs = self._stage("quality", self.quality, obs) or obs
            self._events(obs)
            keep = True if self.sampler is None else self._stage("sampling", self.sampler, obs)
            if keep is not False:
                self.outbox.append(
                    KIND_POSITION, obs.time_ms, quantize_position(obs.data), LANE_SAMPLE
                )
                self.counters["positions_recorded"] += 1
        elif isinstance(obs, Signal):
            self.counters["signals_in"] += 1
            obs = dataclasses.replace(obs, time_ms=self.clock.event_time_ms(obs.time_ms))
            self._events(obs)
            sample = self.engine.update(obs)
            if sample:
                self.outbox.append(KIND_ENGINE, obs.time_ms, sample, LANE_SAMPLE)
                self.counters["engine_samples_recorded"] += 1
        elif isinstance(obs, Event):  # e.g. a duty-status change from the cab
            self.record_event(obs)
        else:
            self.counters["unknown_observation"] += 1

    def _events(self, obs: Observation) -> None:
        # Each detector runs on its own: one that raises loses none of the others' events.
        for detector in self.detectors:
            name = getattr(detector, "__qualname__", "detector")
            for event in self._stage(name, detector, obs) or []:
                self.record_event(event)

    def record_event(self, event: Event) -> None:
        assert self.outbox is not None
        self.outbox.append(
            KIND_EVENT, event.time_ms, {"name": event.name, **event.attrs}, event.lane
        )
        self.counters[f"events.{event.name}"] += 1

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counters)
        out["alive"] = self.alive
        out["outbox_error"] = self.outbox_error
        out["queue_depth"] = self.queue.qsize()
        if self.outbox is not None:
            out["outbox_committed"] = self.outbox.committed
            out["outbox_evicted"] = self.outbox.evicted
        return out
