"""Structured log lines: ``event key=value ...`` that grep and log shippers both read."""

from __future__ import annotations

import logging
from typing import Any


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def kv(event: str, **fields: Any) -> str:
    """``kv("connected", host="h", port=1883)`` -> ``'event=connected host=h port=1883'``."""
    return " ".join([f"event={_fmt(event)}", *(f"{k}={_fmt(v)}" for k, v in fields.items())])


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr as ``time level logger event=... key=value``."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # Alembic announces every plugin it loads at INFO; only its migration lines matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # amqtt and its state machine library narrate every state change at INFO.
    for chatty in ("transitions", "amqtt"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
