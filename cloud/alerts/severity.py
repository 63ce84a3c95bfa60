"""Fault severity from what the vehicle says (lamps, MIL, DTC kind), not a list per code.

First rule that matches, top to bottom:

* critical: red stop lamp on or flashing, or the MIL flashing;
* high: protect lamp on or flashing, or a safety-relevant parameter (oil pressure,
  coolant temperature/level, brakes: ``SAFETY_SPNS`` / ``is_safety_obd``);
* medium: amber warning lamp on or flashing, the MIL steady on, or a permanent OBD code
  (a permanent DTC exists only while the MIL is commanded on);
* low: a pending code, or no lamp lit.

A fleet may override the outcome per code (``SPN980/FMI9``, ``SPN980`` or ``P0301``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LIT = frozenset({"on", "flash_slow", "flash_fast"})
FLASH = frozenset({"flash_slow", "flash_fast", "flash"})

# J1939 SPNs whose failure endangers the engine, the vehicle or people.
SAFETY_SPNS: Mapping[int, str] = {
    98: "Engine Oil Level",
    100: "Engine Oil Pressure",
    109: "Engine Coolant Pressure",
    110: "Engine Coolant Temperature",
    111: "Engine Coolant Level",
    175: "Engine Oil Temperature 1",
    1208: "Engine Pre-filter Oil Pressure",
    1637: "Engine Coolant Temperature (High Resolution)",
    116: "Brake Application Pressure",
    117: "Brake Primary Pressure",
    118: "Brake Secondary Pressure",
    521: "Brake Pedal Position",
    1087: "Service Brake Circuit 1 Air Pressure",
    1088: "Service Brake Circuit 2 Air Pressure",
    1121: "EBS Brake Switch",
}

# OBD-II (SAE J2012) codes about oil pressure/temperature, coolant temperature and brakes.
_SAFETY_OBD_RANGES = (
    ("P0115", "P0119"),  # engine coolant temperature sensor
    ("P0196", "P0198"),  # engine oil temperature sensor
    ("P0217", "P0217"),  # engine overtemperature condition
    ("P0520", "P0524"),  # engine oil pressure sensor / too low
    ("P0571", "P0573"),  # brake switch A
    ("P0504", "P0504"),  # brake switch A/B correlation
)


def is_safety_obd(code: str) -> bool:
    """Oil pressure, coolant temperature and brake codes; every chassis code C0xxx (ABS, brakes)."""
    code = code.upper()
    if code.startswith("C0"):
        return True
    return any(lo <= code <= hi for lo, hi in _SAFETY_OBD_RANGES)


def _lamp(lamps: Mapping[str, Any] | None, name: str) -> str:
    value = lamps.get(name) if lamps else None
    return value if isinstance(value, str) else "na"


def fault_severity(
    *,
    spn: int | None = None,
    code: str | None = None,
    lamps: Mapping[str, Any] | None = None,
    kinds: frozenset[str] = frozenset(),
    mil_on: bool | None = None,
) -> tuple[str, str]:
    """(severity, reason) of one fault.

    ``spn`` for J1939 DM1 faults with the DM1 ``lamps``; ``code`` (``P0301``) with the
    active OBD ``kinds`` (stored/pending/permanent) and ``mil_on`` from mode 01 for OBD-II.
    """
    mil = _lamp(lamps, "mil")
    if _lamp(lamps, "red_stop") in LIT:
        return "critical", "red stop lamp"
    if mil in FLASH:
        return "critical", "flashing MIL"
    if _lamp(lamps, "protect") in LIT:
        return "high", "protect lamp"
    if spn is not None and spn in SAFETY_SPNS:
        return "high", f"safety-relevant parameter ({SAFETY_SPNS[spn]})"
    if code is not None and is_safety_obd(code):
        return "high", "safety-relevant parameter (oil pressure, coolant temperature or brakes)"
    if _lamp(lamps, "amber") in LIT:
        return "medium", "amber warning lamp"
    if mil == "on":
        return "medium", "MIL on"
    if code is not None:
        confirmed = kinds & {"stored", "permanent"}
        if "permanent" in kinds:
            return "medium", "permanent DTC (MIL commanded on)"
        if confirmed and mil_on:
            return "medium", "MIL on"
        if not confirmed:
            return "low", "pending DTC"
    return "low", "no lamp lit"


def override(
    overrides: Mapping[str, str], severity: str, reason: str, codes: list[str]
) -> tuple[str, str]:
    """Apply the fleet's per-code override: the first of ``codes`` (most specific first) found."""
    for code in codes:
        key = code.upper().replace(" ", "")
        if key in overrides:
            return overrides[key], f"fleet override for {code}"
    return severity, reason
