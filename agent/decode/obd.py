"""OBD-II (SAE J1979 / ISO 15031-5) response decoding without I/O.

``decode_response(payload)`` takes one complete diagnostic response (after ISO-TP
reassembly: ``41 0C 1A F8``, ``43 01 03 01``, ``49 02 01 …``) and returns
``(name, value, unit)`` triples. Mode 01 PIDs 00/20/40/… (support bitmaps) decode to the
set of supported PIDs under the name ``SUPPORTED_PIDS``; a PID with no entry in
``PIDS`` raises ``UnknownPid`` so the caller can count it. Names and units: docs/signals.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ENGINE = "Vehicle.Powertrain.CombustionEngine."
FUEL = "Vehicle.Powertrain.FuelSystem."
OBD = "Vehicle.OBD."

SUPPORTED_PIDS = "Vehicle.OBD.SupportedPids"
VIN_NAME = "Vehicle.VehicleIdentification.VIN"
DTC_NAMES = {
    0x43: ("Vehicle.OBD.StoredDTCs", "stored"),
    0x47: ("Vehicle.OBD.PendingDTCs", "pending"),
    0x4A: ("Vehicle.OBD.PermanentDTCs", "permanent"),
}
DTC_MODES = {0x03: 0x43, 0x07: 0x47, 0x0A: 0x4A}


class UnknownPid(ValueError):
    """A well-formed response for a PID this decoder has no scaling for. In a multi-PID
    response, ``partial`` holds what was decoded before it (the rest cannot be framed
    without knowing that PID's length)."""

    def __init__(self, message: str, partial: list[tuple[str, Any, str]] | None = None):
        super().__init__(message)
        self.partial = partial or []


def _u8(f: Callable[[int], Any]) -> tuple[int, Callable[[bytes], Any]]:
    return 1, lambda d: f(d[0])


def _u16(f: Callable[[int], Any]) -> tuple[int, Callable[[bytes], Any]]:
    return 2, lambda d: f((d[0] << 8) | d[1])


# PID -> (name, unit, data bytes needed, decode)
PIDS: dict[int, tuple[str, str, int, Callable[[bytes], Any]]] = {}


def _pid(pid: int, name: str, unit: str, spec: tuple[int, Callable[[bytes], Any]]) -> None:
    PIDS[pid] = (name, unit, spec[0], spec[1])


_pid(0x04, ENGINE + "EngineLoad", "%", _u8(lambda a: round(a * 100 / 255, 2)))
_pid(0x05, ENGINE + "ECT", "°C", _u8(lambda a: a - 40))
_pid(0x06, OBD + "STFT1", "%", _u8(lambda a: round(a * 100 / 128 - 100, 2)))
_pid(0x07, OBD + "LTFT1", "%", _u8(lambda a: round(a * 100 / 128 - 100, 2)))
_pid(0x0B, OBD + "MAP", "kPa", _u8(lambda a: a))
_pid(0x0C, ENGINE + "Speed", "rpm", _u16(lambda v: v / 4))
_pid(0x0D, "Vehicle.Speed", "km/h", _u8(lambda a: a))
_pid(0x0E, OBD + "TimingAdvance", "°", _u8(lambda a: a / 2 - 64))
_pid(0x0F, OBD + "IntakeTemp", "°C", _u8(lambda a: a - 40))
_pid(0x10, OBD + "MAF", "g/s", _u16(lambda v: v / 100))
_pid(0x11, OBD + "ThrottlePosition", "%", _u8(lambda a: round(a * 100 / 255, 2)))
_pid(0x1C, OBD + "OBDStandard", "", _u8(lambda a: a))
_pid(0x1F, OBD + "RunTime", "s", _u16(lambda v: v))
_pid(0x21, OBD + "DistanceWithMIL", "km", _u16(lambda v: v))
_pid(0x2E, OBD + "CommandedEVAP", "%", _u8(lambda a: round(a * 100 / 255, 2)))
_pid(0x2F, FUEL + "RelativeLevel", "%", _u8(lambda a: round(a * 100 / 255, 2)))
_pid(0x31, OBD + "DistanceSinceDTCClear", "km", _u16(lambda v: v))
_pid(0x33, OBD + "BarometricPressure", "kPa", _u8(lambda a: a))
_pid(0x3C, OBD + "Catalyst.Bank1.Temperature1", "°C", _u16(lambda v: round(v / 10 - 40, 1)))
_pid(0x42, OBD + "ControlModuleVoltage", "V", _u16(lambda v: v / 1000))
_pid(0x43, OBD + "AbsoluteLoad", "%", _u16(lambda v: round(v * 100 / 255, 2)))
_pid(0x44, OBD + "CommandedEquivalenceRatio", "ratio", _u16(lambda v: round(v * 2 / 65536, 4)))
_pid(0x46, "Vehicle.Exterior.AirTemperature", "°C", _u8(lambda a: a - 40))
_pid(0x49, OBD + "AcceleratorPedalPositionD", "%", _u8(lambda a: round(a * 100 / 255, 2)))
_pid(0x5C, ENGINE + "EOT", "°C", _u8(lambda a: a - 40))
_pid(0x5E, FUEL + "FuelRate", "L/h", _u16(lambda v: v / 20))
_pid(0x62, ENGINE + "TorquePercent", "%", _u8(lambda a: a - 125))
_pid(0x63, ENGINE + "ReferenceTorque", "Nm", _u16(lambda v: v))
_pid(
    0xA6,
    "Vehicle.TraveledDistance",
    "km",
    (4, lambda d: int.from_bytes(d[:4], "big") / 10),
)

MIL_NAME = "Vehicle.OBD.Status.IsMILOn"
DTC_COUNT_NAME = "Vehicle.OBD.Status.DTCCount"


def format_dtc(hi: int, lo: int) -> str:
    """Two DTC bytes -> 'P0301' (J2012: 2 bits system P/C/B/U, then 1+3 hex digits)."""
    return "PCBU"[hi >> 6] + f"{(hi >> 4) & 0x3:X}{hi & 0xF:X}{lo:02X}"


def decode_supported(base: int, data: bytes) -> set[int]:
    """Support bitmap of PID ``base`` (0x00, 0x20, …) -> supported PIDs (base+1 … base+32)."""
    bits = int.from_bytes(data[:4], "big")
    return {base + i + 1 for i in range(32) if bits & (1 << (31 - i))}


def decode_dtcs(service: int, data: bytes) -> list[dict[str, str]]:
    """Mode 03/07/0A response body (after the service byte; on CAN the first byte is the
    DTC count) -> ``[{"code": "P0301", "kind": "stored"}, …]``."""
    kind = DTC_NAMES[service][1]
    if not data:
        raise ValueError("DTC response without count byte")
    count = data[0]
    body = data[1:]
    if len(body) < 2 * count:
        raise ValueError(f"DTC response announces {count} codes, carries {len(body) // 2}")
    out = []
    for i in range(count):
        hi, lo = body[2 * i], body[2 * i + 1]
        if hi == 0 and lo == 0:
            continue
        out.append({"code": format_dtc(hi, lo), "kind": kind})
    return out


def decode_vin(data: bytes) -> str | None:
    """Mode 09 PID 02 body after ``49 02``: a count byte, then 17 ASCII characters
    (some ECUs pad with 0x00 in front)."""
    text = bytes(data[1:]).strip(b"\x00 ").decode("ascii", errors="replace")
    return text or None


def decode_response(payload: bytes) -> list[tuple[str, Any, str]]:
    """One reassembled positive response -> (name, value, unit) triples.

    Raises ``ValueError`` (or ``UnknownPid``) for anything it cannot decode, with a
    message naming what was wrong; the caller counts it."""
    if not payload:
        raise ValueError("empty response")
    service = payload[0]
    if service == 0x7F:
        raise ValueError("negative response")
    if service == 0x41:
        if len(payload) < 2:
            raise ValueError("mode 01 response without PID")
        return _decode_pids(payload[1:])
    if service in DTC_NAMES:
        name = DTC_NAMES[service][0]
        return [(name, decode_dtcs(service, payload[1:]), "")]
    if service == 0x49:
        if len(payload) >= 3 and payload[1] == 0x02:
            return [(VIN_NAME, decode_vin(payload[2:]), "")]
        raise UnknownPid(f"mode 09 PID {payload[1]:02X}" if len(payload) > 1 else "mode 09")
    raise ValueError(f"unsupported service 0x{service:02X}")


def _pid_length(pid: int) -> int | None:
    if pid % 0x20 == 0 or pid == 0x01:
        return 4
    spec = PIDS.get(pid)
    return spec[2] if spec is not None else None


def _decode_pids(body: bytes) -> list[tuple[str, Any, str]]:
    """``PID data [PID data …]``: a request may ask for up to six PIDs at once."""
    out: list[tuple[str, Any, str]] = []
    pos = 0
    while pos < len(body):
        pid = body[pos]
        n = _pid_length(pid)
        if n is None:
            raise UnknownPid(f"mode 01 PID {pid:02X}", out)
        out += decode_pid(pid, body[pos + 1 : pos + 1 + n])
        pos += 1 + n
    return out


def decode_pid(pid: int, data: bytes) -> list[tuple[str, Any, str]]:
    """Mode 01 PID data bytes -> (name, value, unit) triples."""
    if pid % 0x20 == 0:
        if len(data) < 4:
            raise ValueError(f"PID {pid:02X} bitmap too short")
        return [(SUPPORTED_PIDS, sorted(decode_supported(pid, data)), "")]
    if pid == 0x01:
        if len(data) < 4:
            raise ValueError("PID 01 too short")
        return [(MIL_NAME, bool(data[0] & 0x80), ""), (DTC_COUNT_NAME, data[0] & 0x7F, "")]
    spec = PIDS.get(pid)
    if spec is None:
        raise UnknownPid(f"mode 01 PID {pid:02X}")
    name, unit, need, fn = spec
    if len(data) < need:
        raise ValueError(f"PID {pid:02X} needs {need} bytes, got {len(data)}")
    return [(name, fn(data), unit)]
