"""SAE J1939 decoding without I/O: 29-bit identifiers, transport protocol, SPNs, DM1.

* ``parse_id`` splits a 29-bit CAN id into priority, PGN, source and destination address
  (PDU1 = PF < 240 carries a destination in PS; PDU2 = PF >= 240 carries a group extension).
* ``TransportReassembler`` rebuilds multi-packet messages (J1939-21 TP.CM/TP.DT), both
  broadcast (BAM) and connection mode (RTS/CTS, observed passively), and counts every
  transfer it has to drop by reason.
* ``decode_pgn`` turns one complete parameter group into ``(name, value, unit)`` triples
  with the SPN scalings from J1939-71 (names follow COVESA VSS; see docs/signals.md).
  A raw value in the "error" or "not available" range decodes to ``None``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PGN_TP_CM = 0xEC00  # 60416 transport connection management
PGN_TP_DT = 0xEB00  # 60160 transport data
PGN_DM1 = 0xFECA  # 65226 active diagnostic trouble codes
PGN_VI = 0xFEEC  # 65260 vehicle identification

TP_RTS, TP_CTS, TP_EOMA, TP_BAM, TP_ABORT = 0x10, 0x11, 0x13, 0x20, 0xFF
# J1939-21 T1/T2: a sender pauses at most 750 ms between packets (1250 ms for CTS waits).
TP_TIMEOUT_S = 1.25
TP_MAX_SIZE = 1785  # 255 packets x 7 bytes

FAULTS_NAME = "Vehicle.Diagnostics.ActiveFaults"
VIN_NAME = "Vehicle.VehicleIdentification.VIN"


def parse_id(can_id: int) -> tuple[int, int, int, int]:
    """(priority, pgn, source address, destination address) of a 29-bit J1939 id.

    Destination is 0xFF (global) for PDU2 groups, which carry no destination."""
    priority = (can_id >> 26) & 0x7
    dp_edp = (can_id >> 24) & 0x3
    pf = (can_id >> 16) & 0xFF
    ps = (can_id >> 8) & 0xFF
    sa = can_id & 0xFF
    if pf < 240:
        return priority, (dp_edp << 16) | (pf << 8), sa, ps
    return priority, (dp_edp << 16) | (pf << 8) | ps, sa, 0xFF


# --- transport protocol ---------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    pgn: int
    size: int
    packets: int
    bam: bool
    last_s: float
    parts: dict[int, bytes] = field(default_factory=dict)


class TransportReassembler:
    """Passive J1939-21 reassembly of BAM and RTS/CTS transfers seen on a bus or in a log.

    ``feed`` takes every TP.CM/TP.DT frame and returns ``(pgn, sa, da, payload)`` when a
    transfer completes. Dropped transfers are counted in ``skipped`` by reason."""

    def __init__(self, skipped: Counter[str] | None = None) -> None:
        self.skipped: Counter[str] = skipped if skipped is not None else Counter()
        self._sessions: dict[tuple[int, int], _Session] = {}

    def feed(
        self, pgn: int, sa: int, da: int, data: bytes, t_s: float
    ) -> tuple[int, int, int, bytes] | None:
        if pgn == PGN_TP_CM:
            self._control(sa, da, data, t_s)
            return None
        if pgn == PGN_TP_DT:
            return self._data(sa, da, data, t_s)
        raise ValueError(f"PGN {pgn} is not a transport protocol PGN")

    def _control(self, sa: int, da: int, data: bytes, t_s: float) -> None:
        if len(data) < 8:
            self.skipped["tp.cm too short"] += 1
            return
        ctrl = data[0]
        if ctrl in (TP_BAM, TP_RTS):
            size = data[1] | (data[2] << 8)
            packets = data[3]
            pgn = data[5] | (data[6] << 8) | (data[7] << 16)
            if size < 9 or size > TP_MAX_SIZE or packets != (size + 6) // 7:
                self.skipped["tp.cm inconsistent size"] += 1
                return
            key = (sa, da)
            if key in self._sessions:
                self.skipped["truncated transfer"] += 1
            self._sessions[key] = _Session(pgn, size, packets, ctrl == TP_BAM, t_s)
        elif ctrl == TP_ABORT:
            # An abort comes from either side of a connection; drop whichever is open.
            for key in ((sa, da), (da, sa)):
                if self._sessions.pop(key, None) is not None:
                    self.skipped["transfer aborted"] += 1
        elif ctrl in (TP_CTS, TP_EOMA):
            # Receiver-side control: CTS/EoMA travel da->sa of the session; nothing to do
            # passively except keep the session alive while the receiver is pacing it.
            session = self._sessions.get((da, sa))
            if session is not None:
                session.last_s = t_s
        else:
            self.skipped["tp.cm unknown control byte"] += 1

    def _data(
        self, sa: int, da: int, data: bytes, t_s: float
    ) -> tuple[int, int, int, bytes] | None:
        key = (sa, da)
        session = self._sessions.get(key)
        if session is None:
            self.skipped["tp.dt without session"] += 1
            return None
        if t_s - session.last_s > TP_TIMEOUT_S:
            del self._sessions[key]
            self.skipped["truncated transfer"] += 1
            self.skipped["tp.dt without session"] += 1
            return None
        if len(data) < 2:
            self.skipped["tp.dt too short"] += 1
            return None
        seq = data[0]
        if session.bam and seq != len(session.parts) + 1:
            del self._sessions[key]
            self.skipped["tp sequence error"] += 1
            return None
        if not 1 <= seq <= session.packets:
            del self._sessions[key]
            self.skipped["tp sequence error"] += 1
            return None
        session.parts[seq] = bytes(data[1:8])
        session.last_s = t_s
        if len(session.parts) < session.packets:
            return None
        del self._sessions[key]
        payload = b"".join(session.parts[i] for i in range(1, session.packets + 1))
        if len(payload) < session.size:
            self.skipped["truncated transfer"] += 1
            return None
        return session.pgn, sa, da, payload[: session.size]

    def flush(self) -> int:
        """Count every transfer still open as truncated (end of a log); returns how many."""
        n = len(self._sessions)
        if n:
            self.skipped["truncated transfer"] += n
        self._sessions.clear()
        return n


# --- SPN tables ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spn:
    """One suspect parameter: where it sits in its group and how to scale it."""

    spn: int
    name: str
    start_byte: int  # 0-based
    bits: int  # 2, 8, 16 or 32 (2-bit fields use start_bit)
    scale: float
    offset: float
    unit: str
    start_bit: int = 0  # for 2-bit status fields, bit position within the byte


def _s(spn: int, name: str, byte: int, bits: int, scale: float, offset: float, unit: str) -> Spn:
    return Spn(spn, name, byte, bits, scale, offset, unit)


ENGINE = "Vehicle.Powertrain.CombustionEngine."
FUEL = "Vehicle.Powertrain.FuelSystem."

# PGN -> its SPNs (byte positions 0-based; J1939 documents count from 1).
SPN_TABLE: dict[int, tuple[Spn, ...]] = {
    61444: (  # EEC1
        _s(190, ENGINE + "Speed", 3, 16, 0.125, 0.0, "rpm"),
        _s(513, ENGINE + "TorquePercent", 2, 8, 1.0, -125.0, "%"),
    ),
    61443: (_s(91, "Vehicle.OBD.AcceleratorPedalPosition", 1, 8, 0.4, 0.0, "%"),),  # EEC2
    65265: (  # CCVS1
        _s(84, "Vehicle.Speed", 1, 16, 1 / 256, 0.0, "km/h"),
        Spn(70, "Vehicle.Chassis.ParkingBrake.IsEngaged", 0, 2, 1.0, 0.0, "", start_bit=2),
    ),
    65262: (  # ET1
        _s(110, ENGINE + "ECT", 0, 8, 1.0, -40.0, "°C"),
        _s(175, ENGINE + "EOT", 2, 16, 0.03125, -273.0, "°C"),
    ),
    65263: (_s(100, ENGINE + "EOP", 3, 8, 4.0, 0.0, "kPa"),),  # EFL/P1
    65253: (_s(247, ENGINE + "EngineHours", 0, 32, 0.05, 0.0, "h"),),  # HOURS
    65266: (_s(183, FUEL + "FuelRate", 0, 16, 0.05, 0.0, "L/h"),),  # LFE1
    65248: (_s(245, "Vehicle.TraveledDistance", 4, 32, 0.125, 0.0, "km"),),  # VD
    # HRVD: its own name, so a bus sending VD and HRVD does not flip between resolutions.
    65217: (_s(917, "Vehicle.TraveledDistanceHighRes", 0, 32, 0.005, 0.0, "km"),),
    65257: (_s(250, FUEL + "AccumulatedConsumption", 4, 32, 0.5, 0.0, "L"),),  # LFC1
    65244: (  # IO idle operation
        _s(236, ENGINE + "IdleFuelUsed", 0, 32, 0.5, 0.0, "L"),
        _s(235, ENGINE + "IdleHours", 4, 32, 0.05, 0.0, "h"),
    ),
    65271: (_s(168, "Vehicle.LowVoltageBattery.CurrentVoltage", 4, 16, 0.05, 0.0, "V"),),
    65276: (_s(96, FUEL + "RelativeLevel", 1, 8, 0.4, 0.0, "%"),),  # DD1
    65269: (_s(171, "Vehicle.Exterior.AirTemperature", 3, 16, 0.03125, -273.0, "°C"),),
}

# Largest valid raw value by field width (J1939-71 5.1.4); above it: error / not available.
_VALID_MAX = {8: 0xFA, 16: 0xFAFF, 32: 0xFAFFFFFF}


def _decode_spn(spec: Spn, data: bytes) -> Any:
    if spec.bits == 2:
        raw = (data[spec.start_byte] >> spec.start_bit) & 0x3
        return None if raw > 1 else bool(raw)
    end = spec.start_byte + spec.bits // 8
    raw = int.from_bytes(data[spec.start_byte : end], "little")
    if raw > _VALID_MAX[spec.bits]:
        return None
    value = raw * spec.scale + spec.offset
    return round(value, 6)


def _spn_decoder(specs: tuple[Spn, ...]) -> Callable[[bytes], list[tuple[str, Any, str]]]:
    need = max(s.start_byte + max(1, s.bits // 8) for s in specs)

    def decode(data: bytes) -> list[tuple[str, Any, str]]:
        if len(data) < need:
            raise ValueError(f"group needs {need} bytes, got {len(data)}")
        return [(s.name, _decode_spn(s, data), s.unit) for s in specs]

    return decode


LAMP_NAMES = ("protect", "amber", "red_stop", "mil")  # bit pairs 1-2, 3-4, 5-6, 7-8


def decode_lamps(status: int, flash: int) -> dict[str, str]:
    """DM1 bytes 1-2 to lamp states off|on|flash_slow|flash_fast|na."""
    out: dict[str, str] = {}
    for i, name in enumerate(LAMP_NAMES):
        st = (status >> (2 * i)) & 0x3
        fl = (flash >> (2 * i)) & 0x3
        if st == 0:
            out[name] = "off"
        elif st == 1:
            out[name] = {0: "flash_slow", 1: "flash_fast"}.get(fl, "on")
        else:
            out[name] = "na"
    return out


def decode_dm1(data: bytes, sa: int) -> dict[str, Any]:
    """DM1 payload -> ``{"lamps": {...}, "faults": [{"spn","fmi","oc","sa"}, ...]}``.

    SPNs use conversion method 4 (CM bit 0): 19-bit SPN = byte1 | byte2<<8 | top 3 bits of
    byte3 <<16. The all-zero or all-0xFF DTC slot means "no fault" (padding)."""
    if len(data) < 6:
        raise ValueError(f"DM1 needs at least 6 bytes, got {len(data)}")
    faults = []
    for i in range(2, len(data) - 3, 4):
        b = data[i : i + 4]
        spn = b[0] | (b[1] << 8) | ((b[2] & 0xE0) << 11)
        if spn == 0 or spn == 0x7FFFF:
            continue
        faults.append({"spn": spn, "fmi": b[2] & 0x1F, "oc": b[3] & 0x7F, "sa": sa})
    return {"lamps": decode_lamps(data[0], data[1]), "faults": faults}


_VIN_CHARS = frozenset(b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ")


def decode_vin(data: bytes) -> str | None:
    """PGN 65260 (SPN 237): the VIN field ends at '*'; keep its leading run of VIN
    characters (some ECUs append proprietary bytes after it). None if nothing is left."""
    field_ = data.split(b"*", 1)[0]
    n = 0
    while n < len(field_) and field_[n] in _VIN_CHARS:
        n += 1
    return field_[:n].decode("ascii") if n else None


DECODERS: dict[int, Callable[[bytes], list[tuple[str, Any, str]]]] = {
    pgn: _spn_decoder(specs) for pgn, specs in SPN_TABLE.items()
}


def decode_pgn(pgn: int, sa: int, data: bytes) -> list[tuple[str, Any, str]] | None:
    """Decode one complete group; None if the PGN is not known. Raises ValueError when the
    payload is too short for the group."""
    if pgn == PGN_DM1:
        return [(FAULTS_NAME, decode_dm1(data, sa), "")]
    if pgn == PGN_VI:
        return [(VIN_NAME, decode_vin(data), "")]
    decoder = DECODERS.get(pgn)
    if decoder is None:
        return None
    return decoder(data)


def spn_name(spn: int) -> tuple[str, str] | None:
    """(signal name, unit) of a known SPN, for naming DBC signals that carry an SPN attribute."""
    for specs in SPN_TABLE.values():
        for s in specs:
            if s.spn == spn:
                return s.name, s.unit
    return None
