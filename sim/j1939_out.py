"""J1939 engine ECU of the simulator (source address 0x00 by default): encodes the
broadcast parameter groups from the vehicle state with SAE J1939-71 scalings, sends
the VIN and multi-DTC DM1 with the J1939-21 BAM transport protocol, and answers
Request (PGN 59904) messages.

All encoders return 8 data bytes; bytes and bits a PGN defines but we do not model are
0xFF ("not available").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from sim.faults import Fault
from sim.vehicle import VehicleState

PGN_EEC1 = 61444
PGN_CCVS = 65265
PGN_ET1 = 65262
PGN_LFE = 65266
PGN_LFC = 65257
PGN_HOURS = 65253
PGN_VD = 65248
PGN_HRVD = 65217
PGN_VEP1 = 65271
PGN_DD = 65276
PGN_VI = 65260  # vehicle identification (VIN)
PGN_DM1 = 65226
PGN_REQUEST = 59904
PGN_ACK = 59392
PGN_TP_CM = 60416
PGN_TP_DT = 60160
BAM_CONTROL = 32
BAM_PACKET_GAP_S = 0.05  # J1939-21: 50..200 ms between BAM data packets

NA8 = 0xFF
Frame = tuple[int, bytes]  # (29-bit identifier, data)


def can_id(pgn: int, sa: int, priority: int = 6, da: int = 0xFF) -> int:
    """29-bit identifier; for PDU1 PGNs (PF < 240) the destination goes in PS."""
    pf = (pgn >> 8) & 0xFF
    if pf < 240:
        pgn = (pgn & 0x3FF00) | (da & 0xFF)
    return ((priority & 0x7) << 26) | ((pgn & 0x3FFFF) << 8) | (sa & 0xFF)


def pgn_of(arbitration_id: int) -> tuple[int, int, int]:
    """(pgn, destination, source) of a 29-bit identifier; destination 0xFF for PDU2."""
    sa = arbitration_id & 0xFF
    ps = (arbitration_id >> 8) & 0xFF
    pf = (arbitration_id >> 16) & 0xFF
    dp = (arbitration_id >> 24) & 0x3
    if pf < 240:
        return (dp << 16) | (pf << 8), ps, sa
    return (dp << 16) | (pf << 8) | ps, 0xFF, sa


def _raw(value: float, resolution: float, offset: float, nbytes: int) -> bytes:
    """Scale a physical value, clamped to the valid range (J1939-71: up to 0xFA / 0xFAFF /
    0xFAFFFFFF; the values above are reserved for error / not available)."""
    top = {1: 0xFA, 2: 0xFAFF, 4: 0xFAFFFFFF}[nbytes]
    raw = round((value - offset) / resolution)
    return max(0, min(top, raw)).to_bytes(nbytes, "little")


def _pct_offset(value: float) -> int:
    return max(0, min(250, round(value + 125)))


def encode_eec1(s: VehicleState) -> bytes:
    """EEC1: torque percentages (SPN 512/513/2432, 1 %/bit −125) and SPN 190 rpm."""
    demand = _pct_offset(s.throttle_pct)
    actual = _pct_offset(s.torque_pct)
    return bytes([0xF0, demand, actual]) + _raw(s.rpm, 0.125, 0, 2) + bytes([0x00, NA8, actual])


def encode_ccvs(s: VehicleState) -> bytes:
    """CCVS: parking brake (SPN 70), wheel speed (SPN 84, 1/256 km/h), brake (SPN 597)."""
    b1 = 0xF3 | ((1 if s.parking_brake else 0) << 2)
    b4 = (1 if s.brake else 0) << 4  # cruise off, clutch released
    return bytes([b1]) + _raw(s.speed_kmh, 1 / 256, 0, 2) + bytes([b4, NA8, NA8, NA8, NA8])


def encode_et1(s: VehicleState) -> bytes:
    """ET1: coolant (SPN 110, 1 °C −40) and oil temperature (SPN 175, 0.03125 °C −273)."""
    oil = s.coolant_c + 3.0 if s.engine_on else s.coolant_c
    return (
        _raw(s.coolant_c, 1, -40, 1)
        + bytes([NA8])
        + _raw(oil, 0.03125, -273, 2)
        + bytes([NA8, NA8, NA8, NA8])
    )


def encode_lfe(s: VehicleState) -> bytes:
    """LFE: fuel rate (SPN 183, 0.05 L/h), instantaneous / average economy (SPN 184/185,
    1/512 km/L) and throttle position (SPN 51, 0.4 %)."""
    speed = s.speed_kmh
    inst = speed / s.fuel_rate_lph if s.fuel_rate_lph > 0 and speed > 0 else 0.0
    avg = s.trip_km / s.trip_fuel_l if s.trip_fuel_l > 0 else 0.0
    return (
        _raw(s.fuel_rate_lph, 0.05, 0, 2)
        + _raw(inst, 1 / 512, 0, 2)
        + _raw(avg, 1 / 512, 0, 2)
        + _raw(s.throttle_pct, 0.4, 0, 1)
        + bytes([NA8])
    )


def encode_lfc(s: VehicleState) -> bytes:
    """LFC: trip fuel (SPN 182) and total fuel used (SPN 250), 0.5 L/bit."""
    return _raw(s.trip_fuel_l, 0.5, 0, 4) + _raw(s.fuel_used_l, 0.5, 0, 4)


def encode_hours(s: VehicleState) -> bytes:
    """HOURS: engine hours (SPN 247, 0.05 h) and total revolutions (SPN 249, 1000 r)."""
    return _raw(s.engine_hours, 0.05, 0, 4) + _raw(s.total_revolutions, 1000, 0, 4)


def encode_vd(s: VehicleState) -> bytes:
    """VD: trip distance (SPN 244) and total vehicle distance (SPN 245), 0.125 km/bit."""
    return _raw(s.trip_km, 0.125, 0, 4) + _raw(s.odometer_km, 0.125, 0, 4)


def encode_hrvd(s: VehicleState) -> bytes:
    """HRVD: total (SPN 917) and trip (SPN 918) vehicle distance, 5 m/bit."""
    return _raw(s.odometer_km * 1000, 5, 0, 4) + _raw(s.trip_km * 1000, 5, 0, 4)


def encode_vep1(s: VehicleState) -> bytes:
    """VEP1: charging system (SPN 167), battery (SPN 168), key switch (SPN 158), 0.05 V."""
    volts = _raw(s.battery_v, 0.05, 0, 2)
    return bytes([NA8, NA8]) + volts + volts + volts


def encode_dd(s: VehicleState) -> bytes:
    """DD: fuel level 1 (SPN 96, 0.4 %/bit) in byte 2."""
    return bytes([NA8]) + _raw(s.fuel_level_pct, 0.4, 0, 1) + bytes([NA8] * 6)


def encode_dm1(faults: Sequence[Fault]) -> bytes:
    """DM1 payload: lamp status, then SPN/FMI/OC per active fault (CM = 0). Without
    faults the single DTC is all zeros, as J1939-73 specifies."""
    lamps = bytes([0x44 if faults else 0x00, 0xFF])  # MIL + amber warning when faulted
    if not faults:
        return lamps + bytes([0, 0, 0, 0, NA8, NA8])
    body = bytearray(lamps)
    for f in faults:
        spn, fmi = f.spn or 0, f.fmi or 0
        body += bytes(
            [
                spn & 0xFF,
                (spn >> 8) & 0xFF,
                ((spn >> 16) & 0x7) << 5 | (fmi & 0x1F),
                f.occurrences & 0x7F,
            ]
        )
    while len(body) < 8:
        body.append(NA8)
    return bytes(body)


def bam_frames(pgn: int, payload: bytes, sa: int) -> list[Frame]:
    """TP.CM BAM announcement followed by the TP.DT packets (7 bytes each, 0xFF padded)."""
    if not 9 <= len(payload) <= 1785:
        raise ValueError(f"BAM carries 9..1785 bytes, not {len(payload)}")
    packets = (len(payload) + 6) // 7
    cm = bytes([BAM_CONTROL, len(payload) & 0xFF, len(payload) >> 8, packets, 0xFF]) + pgn.to_bytes(
        3, "little"
    )
    frames: list[Frame] = [(can_id(PGN_TP_CM, sa, 7, 0xFF), cm)]
    for seq in range(packets):
        chunk = payload[seq * 7 : seq * 7 + 7]
        frames.append((can_id(PGN_TP_DT, sa, 7, 0xFF), bytes([seq + 1]) + chunk.ljust(7, b"\xff")))
    return frames


ENCODERS: dict[int, Callable[[VehicleState], bytes]] = {
    PGN_EEC1: encode_eec1,
    PGN_CCVS: encode_ccvs,
    PGN_ET1: encode_et1,
    PGN_LFE: encode_lfe,
    PGN_LFC: encode_lfc,
    PGN_HOURS: encode_hours,
    PGN_VD: encode_vd,
    PGN_HRVD: encode_hrvd,
    PGN_VEP1: encode_vep1,
    PGN_DD: encode_dd,
}
PRIORITY = {PGN_EEC1: 3}
# Broadcast periods in wall-clock seconds (CAN runs at real rates whatever the speed-up).
PERIODS_S = {
    PGN_EEC1: 0.05,
    PGN_CCVS: 0.1,
    PGN_LFE: 0.1,
    PGN_ET1: 1.0,
    PGN_LFC: 1.0,
    PGN_HOURS: 1.0,
    PGN_VD: 1.0,
    PGN_HRVD: 1.0,
    PGN_VEP1: 1.0,
    PGN_DD: 1.0,
}


class J1939Ecu:
    """Decides which frames are due at a given wall time; not thread-safe (one caller)."""

    def __init__(
        self,
        sa: int = 0x00,
        vin: str | None = None,
        faults: Sequence[Fault] = (),
        vin_interval_s: float = 10.0,
        dm1_interval_s: float = 1.0,
    ) -> None:
        self.sa = sa
        self.vin = vin
        self.faults = [f for f in faults if not f.is_obd]
        self._next: dict[int, float] = {}
        self._periods = dict(PERIODS_S)
        self._periods[PGN_DM1] = dm1_interval_s
        if vin and vin_interval_s > 0:
            self._periods[PGN_VI] = vin_interval_s
        self._bam: deque[Frame] = deque()
        self._bam_next = 0.0
        self._requests: deque[tuple[int, int, int]] = deque()  # (pgn, da, requester)
        self.requests_answered = 0
        self.requests_nacked = 0

    def active_faults(self, t_s: float) -> list[Fault]:
        return [f for f in self.faults if f.active(t_s)]

    def request(self, arbitration_id: int, data: bytes) -> bool:
        """Queue a Request (PGN 59904) frame seen on the bus; True when it is for us."""
        pgn, da, sa = pgn_of(arbitration_id)
        if pgn != PGN_REQUEST or da not in (self.sa, 0xFF) or len(data) < 3:
            return False
        self._requests.append((int.from_bytes(data[:3], "little"), da, sa))
        return True

    def _payload(self, pgn: int, state: VehicleState) -> bytes | None:
        if pgn in ENCODERS:
            return ENCODERS[pgn](state)
        if pgn == PGN_DM1:
            return encode_dm1(self.active_faults(state.t_s))
        if pgn == PGN_VI and self.vin:
            return self.vin.encode("ascii") + b"*"
        return None

    def _frames_for(self, pgn: int, state: VehicleState, now: float) -> list[Frame]:
        payload = self._payload(pgn, state)
        if payload is None:
            return []
        if len(payload) <= 8:
            return [(can_id(pgn, self.sa, PRIORITY.get(pgn, 6)), payload)]
        if not self._bam:  # one BAM session at a time (J1939-21)
            self._bam.extend(bam_frames(pgn, payload, self.sa))
            self._bam_next = now
        return []

    def due(self, now: float, state: VehicleState) -> list[Frame]:
        """Frames to send at wall time ``now`` (monotonic s); call every ≤ 50 ms."""
        out: list[Frame] = []
        while self._requests:
            pgn, da, requester = self._requests.popleft()
            frames = self._frames_for(pgn, state, now)
            if frames or (pgn in (PGN_VI, PGN_DM1) and self._payload(pgn, state)):
                out += frames
                self.requests_answered += 1
            elif da == self.sa:
                self.requests_nacked += 1
                nack = bytes([1, 0xFF, 0xFF, 0xFF, requester]) + pgn.to_bytes(3, "little")
                out.append((can_id(PGN_ACK, self.sa, 6, 0xFF), nack))
        for pgn, period in self._periods.items():
            if now >= self._next.get(pgn, 0.0):
                out += self._frames_for(pgn, state, now)
                # Keep the cadence without bursting after a stall.
                nxt = self._next.get(pgn, now) + period
                self._next[pgn] = nxt if nxt > now else now + period
        if self._bam and now >= self._bam_next:
            out.append(self._bam.popleft())
            self._bam_next = now + BAM_PACKET_GAP_S
        return out
