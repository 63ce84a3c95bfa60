"""Commands from the cloud (the ``down`` topic), validated and answered on ``down/ack``.

A command is JSON: ``{"id": "c-42", "command": "ping", "args": {}}``. Every command gets
exactly one answer ``{"id": ..., "ok": true, "result": {...}}`` or ``{"id": ..., "ok":
false, "error": "..."}``; a payload that is not a command at all is answered with
``"id": null`` and the reason. Nothing here talks MQTT (the uplink does).

Commands:
  ping                      -> {"time_ms": agent clock}
  status                    -> the agent's health and outbox figures (also published)
  eld_set_status            -> a dispatcher's duty-status change for the logged-in driver,
                               args {"status": ..., "note": "..."}; recorded with origin
                               "cloud" and sent back as an ELD record
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from agent.eld.errors import EldConflict, EldInputError
from agent.model import Event

Submit = Callable[[Event], None]


class Downlink:
    def __init__(
        self,
        health: Callable[[], dict[str, Any]],
        submit: Submit,
        duty: Any | None = None,  # agent.eld.DutyStore when ELD is enabled
    ) -> None:
        self._health = health
        self._submit = submit
        self._duty = duty
        self.counters = {"commands": 0, "refused": 0}

    def handle(self, payload: bytes) -> dict[str, Any]:
        """Run one command; always returns the answer to publish (never raises)."""
        self.counters["commands"] += 1
        try:
            message = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._refuse(None, f"not JSON: {exc}")
        if not isinstance(message, dict):
            return self._refuse(None, "a command is a JSON object with id, command and args")
        command_id = message.get("id")
        if not isinstance(command_id, str) or not command_id:
            return self._refuse(None, "missing 'id' (a non-empty string the answer repeats)")
        name, args = message.get("command"), message.get("args", {})
        if not isinstance(args, dict):
            return self._refuse(command_id, "'args' must be an object")
        runner = {
            "ping": self._ping,
            "status": self._status,
            "eld_set_status": self._eld_set_status,
        }.get(name)  # type: ignore[arg-type]
        if runner is None:
            return self._refuse(
                command_id, f"unknown command {name!r}; known: ping, status, eld_set_status"
            )
        try:
            return {"id": command_id, "ok": True, "result": runner(args)}
        except (ValueError, EldInputError, EldConflict) as exc:
            return self._refuse(command_id, str(exc))

    def _refuse(self, command_id: str | None, error: str) -> dict[str, Any]:
        self.counters["refused"] += 1
        return {"id": command_id, "ok": False, "error": error}

    def _ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"time_ms": int(time.time() * 1000)}

    def _status(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._health()

    def _eld_set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._duty is None:
            raise ValueError("ELD is not enabled on this device ([eld] enabled = false)")
        event = self._duty.set_status(args.get("status"), args.get("note", ""), origin="cloud")
        self._submit(event)
        return {"eld_seq": event.attrs.get("eld_seq"), "status": event.attrs.get("status")}
