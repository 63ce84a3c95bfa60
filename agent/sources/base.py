"""The source contract: something that produces observations on its own thread.

A source is started with an ``emit`` callback and calls it for every Position or Signal
it produces. It must never raise out of its thread: a lost device is reported through
``health()`` and retried with backoff. ``stop()`` is idempotent and joins the thread.
"""

from __future__ import annotations

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
