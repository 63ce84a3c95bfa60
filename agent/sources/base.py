"""The source contract: something that produces observations on its own thread.

A source is started with an ``emit`` callback and calls it for every Position or Signal
it produces. It must never raise out of its thread: a lost device is reported through
``health()`` and retried with backoff. ``stop()`` is idempotent and joins the thread.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from agent.model import Observation

Emit = Callable[[Observation], None]


class Source(ABC):
    name: str = "source"

    @abstractmethod
    def start(self, emit: Emit) -> None:
        """Start reading on a background thread, calling ``emit`` for each observation."""

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and release the device; safe to call twice."""

    def health(self) -> dict[str, Any]:
        """Counters and state for the status topic (connected, errors, rejects by reason)."""
        return {}

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ThreadedSource(Source):
    """A source that reads on one background thread of its own.

    The lifecycle lives here; a plug-in implements only ``_run()``, which loops until
    ``self._stop`` is set and hands each observation to ``self._emit``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._emit: Emit | None = None

    def start(self, emit: Emit) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._emit = emit
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @abstractmethod
    def _run(self) -> None:
        """Read until ``self._stop`` is set; never raise (report through ``health()``)."""
