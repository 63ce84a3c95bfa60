"""Injected faults: J1939 ``SPN:FMI[:at_s]`` (reported in DM1) and OBD-II
``P0301[:at_s]`` style trouble codes (reported by modes 03/07/0A), each becoming active
``at_s`` seconds of sim time after the start (default 0)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_OBD_RE = re.compile(r"^([PCBU])([0-3])([0-9A-F]{3})$")
_OBD_LETTERS = "PCBU"


@dataclass(frozen=True)
class Fault:
    """One injected fault; ``code`` is set for OBD faults, ``spn``/``fmi`` for J1939."""

    at_s: float
    spn: int | None = None
    fmi: int | None = None
    code: str | None = None
    occurrences: int = 1

    @property
    def is_obd(self) -> bool:
        return self.code is not None

    def active(self, t_s: float) -> bool:
        return t_s >= self.at_s


def parse_fault(text: str) -> Fault:
    """Parse ``SPN:FMI[:at_s]`` or ``P0301[:at_s]``; raises ValueError saying what is wrong."""
    parts = text.strip().split(":")
    first = parts[0].strip().upper()
    if _OBD_RE.match(first):
        if len(parts) > 2:
            raise ValueError(f"fault {text!r}: expected CODE[:at_s], e.g. P0301:120")
        return Fault(at_s=_at(parts[1] if len(parts) == 2 else "0", text), code=first)
    if len(parts) not in (2, 3):
        raise ValueError(
            f"fault {text!r}: expected SPN:FMI[:at_s] (e.g. 110:0:300) or P0301[:at_s]"
        )
    try:
        spn, fmi = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"fault {text!r}: SPN and FMI must be integers") from None
    if not 0 <= spn <= 0x7FFFF:
        raise ValueError(f"fault {text!r}: SPN must be 0..524287")
    if not 0 <= fmi <= 31:
        raise ValueError(f"fault {text!r}: FMI must be 0..31")
    return Fault(at_s=_at(parts[2] if len(parts) == 3 else "0", text), spn=spn, fmi=fmi)


def _at(value: str, text: str) -> float:
    try:
        at = float(value)
    except ValueError:
        raise ValueError(f"fault {text!r}: at_s must be a number of seconds") from None
    if not math.isfinite(at) or at < 0:
        raise ValueError(f"fault {text!r}: at_s must be ≥ 0")
    return at


def obd_dtc_bytes(code: str) -> bytes:
    """The two-byte SAE J2012 encoding of a code such as ``P0301``."""
    m = _OBD_RE.match(code.upper())
    if not m:
        raise ValueError(f"{code!r} is not an OBD-II trouble code like P0301")
    letter, digit, rest = m.groups()
    value = (_OBD_LETTERS.index(letter) << 14) | (int(digit) << 12) | int(rest, 16)
    return value.to_bytes(2, "big")
