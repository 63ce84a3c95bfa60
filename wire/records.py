"""Record kinds and the batch envelope.

Every record carries its own event time (UTC, integer milliseconds since the Unix
epoch) and a sequence number. Sequence numbers start at 1 for every boot of the agent
and increase by one per record; ``(device_id, boot_id, seq)`` identifies a record
forever, which is what makes redelivery harmless in the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KIND_POSITION = "position"
KIND_ENGINE = "engine"
KIND_EVENT = "event"
KINDS = (KIND_POSITION, KIND_ENGINE, KIND_EVENT)

# Position fields with their fixed-point scale on the wire (value * scale is an int).
# Positions are quantised to these resolutions before they are stored, so a record
# reads back exactly as it was written.
POSITION_FIELDS: tuple[tuple[str, int], ...] = (
    ("lat", 10_000_000),  # degrees WGS84, 1e-7 deg (about 1 cm)
    ("lon", 10_000_000),
    ("alt_m", 10),  # metres above mean sea level, 1 dm
    ("speed_mps", 100),  # metres per second, 1 cm/s
    ("course_deg", 10),  # degrees true, 0.1 deg
    ("sats", 1),  # satellites used
    ("hdop", 100),
    ("pdop", 100),
    ("mode", 1),  # 0 no fix, 2 = 2D, 3 = 3D
    ("quality", 1),  # GGA fix quality
)
POSITION_FLAGS = ("valid",)  # booleans carried as bits

# Quality flags the agent may set on a position (``data["flags"]``). These three make
# the position unusable; the others (``few_sats``, ``high_hdop``) only make it less exact.
UNTRUSTED_FLAGS = frozenset({"no_fix", "zero_position", "jump"})


def position_is_trusted(data: dict[str, Any]) -> bool:
    """True when a position may be used: not marked invalid, no disqualifying flag."""
    flags = data.get("flags") or ()
    return data.get("valid", True) is not False and not UNTRUSTED_FLAGS.intersection(flags)


def quantize_position(data: dict[str, Any]) -> dict[str, Any]:
    """Round the numeric position fields to their wire resolution (returns a new dict)."""
    out = dict(data)
    for name, scale in POSITION_FIELDS:
        value = out.get(name)
        if value is None or isinstance(value, bool):
            continue
        if scale == 1:
            out[name] = round(value)
        else:
            out[name] = round(float(value) * scale) / scale
    return out


@dataclass(frozen=True, slots=True)
class Record:
    """One thing that happened on the vehicle.

    ``kind`` is ``position``, ``engine`` (signal name -> value) or ``event``
    (``data["name"]`` says which event, the rest are its attributes).
    """

    kind: str
    seq: int
    time_ms: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Batch:
    """Many records of one device and one boot, sent as one MQTT message."""

    device_id: str
    boot_id: int
    records: tuple[Record, ...]
    sent_ms: int = 0  # agent clock when the batch was built (for latency figures)
