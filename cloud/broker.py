"""Embedded MQTT broker (amqtt) for the all-in-one demo: ``fleetwire-cloud run`` without an MQTT URL.

Runs amqtt's asyncio broker on its own thread, listening on 127.0.0.1:<port>, anonymous
clients allowed, QoS 1 and persistent sessions (messages for a disconnected
``clean_session=False`` client are queued until it returns). Sessions live in memory:
a restart of the process forgets them. Use Mosquitto for anything beyond a demo.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

from cloud.logs import kv

log = logging.getLogger(__name__)


class OpenAuthPlugin(BaseAuthPlugin):
    """Let every client in *without* flagging it anonymous.

    amqtt's own anonymous plugin marks sessions anonymous, and amqtt keeps no queued
    messages for anonymous sessions - which would defeat the consumer's persistent
    session. The broker only listens on the loopback interface.
    """

    @dataclass
    class Config:
        """No options."""

    async def authenticate(self, *, session: Any) -> bool:
        return True


class EmbeddedBroker:
    """``with EmbeddedBroker(port=1883): ...`` or ``start()`` / ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def config(self) -> dict[str, Any]:
        """The amqtt broker configuration (a ``BrokerConfig`` dictionary)."""
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.OpenAuthPlugin": {},
            },
        }

    def start(self, timeout_s: float = 10.0) -> None:
        """Start listening; raises RuntimeError (with the cause) if the broker cannot start."""
        if self._thread is not None:
            raise RuntimeError("embedded broker already started")
        self._thread = threading.Thread(target=self._main, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"embedded MQTT broker did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join(1.0)
            self._thread = None
            raise RuntimeError(
                f"embedded MQTT broker failed on {self.host}:{self.port}: {self._error}"
            ) from self._error
        log.info(kv("embedded_broker_started", host=self.host, port=self.port))

    def stop(self, timeout_s: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._broker is not None:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
            try:
                fut.result(timeout_s)
            except Exception as exc:  # shutting down anyway
                log.warning(kv("embedded_broker_shutdown_error", error=exc))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        self._thread = None
        self._loop = None
        log.info(kv("embedded_broker_stopped", port=self.port))

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._broker = Broker(self.config(), loop=loop)
            loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # report to start(), which raises it in the caller
            self._error = exc
            self._broker = None
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()
