"""Errors raised while building or reading wire messages."""


class WireError(ValueError):
    """A payload or topic does not follow the wire contract (the message says why)."""


class UnsupportedVersion(WireError):
    """The payload was written with a codec version this side does not know."""
