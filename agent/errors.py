"""The agent's error hierarchy; the CLI maps each to an exit code and one line of advice."""


class AgentError(Exception):
    """Base class of every error the agent reports to its user."""

    exit_code = 1


class ConfigError(AgentError):
    """The configuration file or an environment override is wrong (message names key and file)."""

    exit_code = 2


class SourceUnavailable(AgentError):
    """A serial port or CAN interface cannot be opened (it may come back: retried)."""

    exit_code = 3


class OutboxError(AgentError):
    """The SQLite outbox cannot be opened or written (corrupt, locked, disk full)."""

    exit_code = 4
