"""In-process counters of the ingest path, rendered in the Prometheus text format."""

from __future__ import annotations

import threading

COUNTERS: dict[str, str] = {
    "messages": "MQTT messages handed to the ingest handler",
    "batches_stored": "batches with at least one record stored",
    "records_inserted": "records stored for the first time",
    "records_duplicate": "records already stored (redelivery)",
    "records_invalid": "records skipped as invalid (payload kept in quarantine)",
    "quarantined": "messages kept in quarantine (undecodable, bad topic, invalid)",
    "rejected": "batches whose envelope device differs from the topic device",
    "status_messages": "status messages stored",
    "processor_failures": "processor runs that failed (window kept dirty)",
    "errors": "messages not acknowledged because the database was unavailable",
    "acks": "MQTT acknowledgements sent after commit",
    "connects": "successful connections to the broker",
    "disconnects": "connections lost or closed",
}


class Metrics:
    """Thread-safe named counters; ``inc("records_inserted", 50)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(COUNTERS, 0)

    def inc(self, name: str, amount: int = 1) -> None:
        if name not in COUNTERS:
            raise KeyError(f"unknown counter {name!r}")
        with self._lock:
            self._values[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def render(self, gauges: dict[str, tuple[float, str]] | None = None) -> str:
        """Prometheus exposition text of the counters plus ``gauges`` (name -> (value, help))."""
        lines: list[str] = []
        for name, value in self.snapshot().items():
            metric = f"fleetwire_ingest_{name}_total"
            lines += [f"# HELP {metric} {COUNTERS[name]}", f"# TYPE {metric} counter"]
            lines.append(f"{metric} {value}")
        for name, (value, help_text) in (gauges or {}).items():
            metric = f"fleetwire_{name}"
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric} {value}"]
        return "\n".join(lines) + "\n"
