"""VIN validation for the simulator (ISO 3779 / 49 CFR 565 check digit)."""

from __future__ import annotations

_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    """The check digit (position 9) a 17-character VIN should have."""
    total = sum(_VALUES[c] * w for c, w in zip(vin.upper(), _WEIGHTS, strict=True))
    rem = total % 11
    return "X" if rem == 10 else str(rem)


def validate_vin(vin: str) -> str:
    """Upper-cased VIN, or ValueError: 17 characters, no I/O/Q, correct check digit."""
    vin = vin.strip().upper()
    if len(vin) != 17 or any(c not in _VALUES for c in vin):
        raise ValueError(f"VIN {vin!r} must be 17 characters from 0-9 and A-Z without I, O, Q")
    if vin[8] != check_digit(vin):
        raise ValueError(f"VIN {vin!r} has check digit {vin[8]}, expected {check_digit(vin)}")
    return vin
