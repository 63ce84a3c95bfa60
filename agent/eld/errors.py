"""Errors of the ELD component; each carries the HTTP status the local UI answers with."""

from __future__ import annotations

from agent.errors import AgentError


class EldError(Exception):
    """A driver action that cannot be done; the message says why and what to do."""

    http_status = 400


class EldInputError(EldError):
    """The request itself is wrong (unknown status, bad driver id, note too long)."""

    http_status = 400


class EldConflict(EldError):
    """Valid request, wrong moment (vehicle moving, nobody logged in, no prompt open)."""

    http_status = 409


class DutyStoreError(AgentError):
    """The duty store's SQLite file cannot be opened or holds values it cannot read."""

    exit_code = 4
