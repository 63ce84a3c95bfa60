"""OBD-II engine ECU of the simulator on ISO 15765-4 CAN with 11-bit identifiers:
answers functional (0x7DF) and physical (0x7E0) requests on 0x7E8, using can-isotp for
segmentation and flow control.

Services: 01 current data (PIDs 00/20/40 bitmaps, 01, 04, 05, 0C, 0D, 11, 1C, 1F, 21,
2F, 31, 42, 46, 5E; several PIDs per request), 03/07/0A stored/pending/permanent DTCs,
04 clear DTCs, 09 vehicle information (PIDs 00, 02 VIN, 0A ECU name). Unsupported
requests get no answer when functional and a negative response when physical.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence

import can
import isotp

from sim.faults import Fault, obd_dtc_bytes
from sim.vehicle import VehicleState

FUNCTIONAL_ID = 0x7DF
REQUEST_ID = 0x7E0
RESPONSE_ID = 0x7E8
ECU_NAME = "ECM-EngineControl"  # mode 09 PID 0A: 20 bytes, NUL padded
NRC_SERVICE_NOT_SUPPORTED = 0x11
NRC_SUBFUNCTION_NOT_SUPPORTED = 0x12

log = logging.getLogger(__name__)


def _u8(x: float) -> bytes:
    return bytes([max(0, min(255, round(x)))])


def _u16(x: float) -> bytes:
    return max(0, min(0xFFFF, round(x))).to_bytes(2, "big")


class ObdResponder:
    """Builds responses from a state snapshot; pure apart from the DTC-cleared marker."""

    def __init__(
        self, vin: str, faults: Sequence[Fault] = (), cleared_km_ago: float = 1523.0
    ) -> None:
        self.vin = vin
        self.faults = [f for f in faults if f.is_obd]
        self.cleared_at_s: float | None = None  # sim time of the last mode 04
        self.cleared_km_ago = cleared_km_ago
        self._cleared_trip_km = 0.0
        self.pids: dict[int, Callable[[VehicleState], bytes]] = {
            0x01: self._pid_status,
            0x04: lambda s: _u8(min(100.0, s.torque_pct) * 255 / 100),
            0x05: lambda s: _u8(s.coolant_c + 40),
            0x0C: lambda s: _u16(s.rpm * 4),
            0x0D: lambda s: _u8(s.speed_kmh),
            0x11: lambda s: _u8(s.throttle_pct * 255 / 100),
            0x1C: lambda s: b"\x01",  # OBD-II as defined by CARB
            0x1F: lambda s: _u16(s.t_s if s.engine_on else 0),
            0x21: self._pid_distance_mil,
            0x2F: lambda s: _u8(s.fuel_level_pct * 255 / 100),
            0x31: self._pid_distance_cleared,
            0x42: lambda s: _u16(s.battery_v * 1000),
            0x46: lambda s: _u8(15 + 40),
            0x5E: lambda s: _u16(s.fuel_rate_lph * 20),
        }

    # ---------------------------------------------------------------- DTCs
    def stored(self, t_s: float) -> list[Fault]:
        """Confirmed DTCs (mode 03) — also reported as pending (07) in this cycle."""
        return [
            f
            for f in self.faults
            if f.active(t_s) and (self.cleared_at_s is None or f.at_s > self.cleared_at_s)
        ]

    def permanent(self, t_s: float) -> list[Fault]:
        """Mode 0A: a scan tool cannot clear these."""
        return [f for f in self.faults if f.active(t_s)]

    def _pid_status(self, s: VehicleState) -> bytes:
        count = len(self.stored(s.t_s))
        mil = 0x80 if count else 0x00
        # Byte B: misfire / fuel system / components monitors supported and complete;
        # C/D: catalyst, evap, O2 sensor and heater monitors supported, all complete.
        return bytes([mil | min(count, 0x7F), 0x07, 0x65, 0x00])

    def _pid_distance_mil(self, s: VehicleState) -> bytes:
        return _u16(s.trip_km if self.stored(s.t_s) else 0)

    def _pid_distance_cleared(self, s: VehicleState) -> bytes:
        if self.cleared_at_s is None:
            return _u16(self.cleared_km_ago + s.trip_km)
        return _u16(s.trip_km - self._cleared_trip_km)

    def _bitmap(self, base: int) -> bytes:
        """Supported-PID bitmap for PIDs base+1 .. base+0x20 (bit 31 = base+1)."""
        bits = 0
        supported = set(self.pids) | {0x20, 0x40}
        for pid in supported:
            if base < pid <= base + 0x20:
                bits |= 1 << (32 - (pid - base))
        return bits.to_bytes(4, "big")

    # ---------------------------------------------------------------- services
    def respond(self, request: bytes, state: VehicleState, functional: bool) -> bytes | None:
        """The response payload for one request, or None when the ECU stays silent."""
        if not request:
            return None
        mode = request[0]
        if mode == 0x01:
            return self._mode01(request[1:], state, functional)
        if mode in (0x03, 0x07, 0x0A) and len(request) == 1:
            faults = self.permanent(state.t_s) if mode == 0x0A else self.stored(state.t_s)
            body = b"".join(obd_dtc_bytes(f.code or "") for f in faults)
            return bytes([mode + 0x40, len(faults)]) + body
        if mode == 0x04 and len(request) == 1:
            self.cleared_at_s = state.t_s
            self._cleared_trip_km = state.trip_km
            return b"\x44"
        if mode == 0x09 and len(request) == 2:
            return self._mode09(request[1], functional)
        if functional:
            return None
        nrc = (
            NRC_SUBFUNCTION_NOT_SUPPORTED
            if mode in (1, 3, 4, 7, 9, 10)
            else NRC_SERVICE_NOT_SUPPORTED
        )
        return bytes([0x7F, mode, nrc])

    def _mode01(self, pids: bytes, state: VehicleState, functional: bool) -> bytes | None:
        if not 1 <= len(pids) <= 6:
            return None if functional else bytes([0x7F, 0x01, NRC_SUBFUNCTION_NOT_SUPPORTED])
        out = bytearray([0x41])
        for pid in pids:
            if pid in (0x00, 0x20, 0x40):
                out += bytes([pid]) + self._bitmap(pid)
            elif pid in self.pids:
                out += bytes([pid]) + self.pids[pid](state)
        if len(out) == 1:
            return None if functional else bytes([0x7F, 0x01, NRC_SUBFUNCTION_NOT_SUPPORTED])
        return bytes(out)

    def _mode09(self, pid: int, functional: bool) -> bytes | None:
        if pid == 0x00:
            return bytes([0x49, 0x00]) + (1 << (32 - 2) | 1 << (32 - 0x0A)).to_bytes(4, "big")
        if pid == 0x02:
            return bytes([0x49, 0x02, 0x01]) + self.vin.encode("ascii")
        if pid == 0x0A:
            return bytes([0x49, 0x0A, 0x01]) + ECU_NAME.encode("ascii").ljust(20, b"\x00")
        return None if functional else bytes([0x7F, 0x09, NRC_SUBFUNCTION_NOT_SUPPORTED])


class ObdEcu:
    """Runs an ObdResponder on a python-can bus. Frames reach it through ``feed`` (from
    the simulator's notifier); replies go out through ``send`` (the shared bus)."""

    def __init__(
        self,
        responder: ObdResponder,
        get_state: Callable[[], VehicleState],
        send: Callable[[can.Message], None],
    ) -> None:
        self.responder = responder
        self._get_state = get_state
        self._send = send
        self._rx: queue.Queue[isotp.CanMessage] = queue.Queue()
        self._functional: queue.Queue[bytes] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.responses = 0
        self.errors = 0
        address = isotp.Address(
            isotp.AddressingMode.Normal_11bits, txid=RESPONSE_ID, rxid=REQUEST_ID
        )
        params = {
            "tx_padding": 0x55,  # ISO 15765-4: every frame has 8 data bytes
            "tx_data_min_length": 8,
            "stmin": 0,
            "blocksize": 0,
            "rx_flowcontrol_timeout": 1000,
            "rx_consecutive_frame_timeout": 1000,
        }
        self._stack = isotp.TransportLayer(
            rxfn=self._rxfn,
            txfn=self._txfn,
            address=address,
            error_handler=self._on_error,
            params=params,
        )

    def _rxfn(self, timeout: float) -> isotp.CanMessage | None:
        try:
            return self._rx.get(timeout=timeout)
        except queue.Empty:
            return None

    def _txfn(self, msg: isotp.CanMessage) -> None:
        self._send(
            can.Message(arbitration_id=msg.arbitration_id, data=msg.data, is_extended_id=False)
        )

    def _on_error(self, exc: Exception) -> None:
        self.errors += 1
        log.debug("ISO-TP error: %s", exc)

    def feed(self, msg: can.Message) -> None:
        """Called for every received frame; keeps the 11-bit OBD request identifiers."""
        if msg.is_extended_id or msg.is_error_frame or msg.is_remote_frame:
            return
        data = bytes(msg.data)
        if msg.arbitration_id == FUNCTIONAL_ID and data:
            kind = data[0] >> 4
            if kind == 0:  # functional requests are single frames
                length = data[0] & 0x0F
                if 1 <= length <= len(data) - 1:
                    self._functional.put(data[1 : 1 + length])
                return
            if kind != 3:
                return
            # A tester may send its flow control to the functional id; treat it as ours.
        elif msg.arbitration_id != REQUEST_ID:
            return
        self._rx.put(isotp.CanMessage(arbitration_id=REQUEST_ID, data=data, extended_id=False))

    def start(self) -> None:
        self._stack.start()
        self._thread = threading.Thread(target=self._run, name="sim-obd-ecu", daemon=True)
        self._thread.start()

    def _handle(self, request: bytes, functional: bool) -> None:
        self.requests += 1
        try:
            reply = self.responder.respond(request, self._get_state(), functional)
        except Exception:  # a bad request must never kill the ECU
            self.errors += 1
            log.exception("OBD request %s failed", request.hex())
            return
        if reply is not None:
            self._stack.send(reply)
            self.responses += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            payload = self._stack.recv(block=True, timeout=0.05)
            if payload is not None:
                self._handle(bytes(payload), functional=False)
            while True:
                try:
                    request = self._functional.get_nowait()
                except queue.Empty:
                    break
                self._handle(request, functional=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with contextlib.suppress(Exception):
            self._stack.stop()
