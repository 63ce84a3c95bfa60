"""Live CAN sources: a passive J1939 reader and an active OBD-II poller (python-can bus).

``J1939Source`` only listens: every frame goes through ``CanDecoder`` and each Signal is
emitted. ``ObdPollerSource`` talks: it finds the ECUs that answer a functional ``01 00``,
walks their PID support bitmaps (00, 20, 40, …), then polls the configured mode-01 PIDs
at their own periods, reads PID 01 (MIL, DTC count) and DTCs (modes 03/07/0A)
periodically and the VIN (mode 09 PID 02, multi-frame) at start. Requests and responses
go through can-isotp (one transport layer per ECU, physical addressing).

Neither source raises out of its thread: a bus that cannot be opened or fails is reported
in ``health()`` and retried with exponential backoff; an ECU that stops answering is
probed with backoff until it answers again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import can
import isotp

from agent.decode import obd
from agent.decode.can_decoder import CanDecoder
from agent.model import Signal
from agent.sources.base import ThreadedSource

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


def _copy(counter: Counter[str]) -> dict[str, int]:
    """Copy a counter another thread may be updating (a new key can appear mid-copy)."""
    for _ in range(5):
        try:
            return dict(counter)
        except RuntimeError:
            continue
    return {}


class _BusSource(ThreadedSource):
    """Thread, bus lifecycle, health counters and backoff shared by both sources."""

    def __init__(self, bus_config: dict[str, Any], name: str) -> None:
        super().__init__(name)
        self.bus_config = dict(bus_config)
        self._lock = threading.Lock()
        self._health: dict[str, Any] = {"connected": False, "bus_errors": 0, "last_error": None}
        self.counts: Counter[str] = Counter()

    def health(self) -> dict[str, Any]:
        with self._lock:
            out = dict(self._health)
            out["counts"] = _copy(self.counts)
        return out

    def _set(self, **values: Any) -> None:
        with self._lock:
            self._health.update(values)

    def _bus_error(self, exc: BaseException) -> None:
        with self._lock:
            self._health["bus_errors"] += 1
            self._health["last_error"] = f"{type(exc).__name__}: {exc}"
            self._health["connected"] = False

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while not self._stop.is_set():
            try:
                bus = can.Bus(**self.bus_config)
            except Exception as exc:  # drivers raise CanError, OSError, ValueError, …
                self._bus_error(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            self._set(connected=True)
            try:
                self._session(bus)
                backoff = BACKOFF_START_S
            except Exception as exc:  # keep the thread alive whatever the bus did
                self._bus_error(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            finally:
                self._set(connected=False)
                try:
                    bus.shutdown()
                except Exception as exc:
                    self._bus_error(exc)

    def _session(self, bus: can.BusABC) -> None:
        raise NotImplementedError

    def _out(self, signals: Iterable[Signal]) -> None:
        emit = self._emit
        if emit is None:
            return
        for sig in signals:
            self.counts["signals"] += 1
            try:
                emit(sig)
            except Exception as exc:  # a failing consumer must not stop the reader
                self.counts["emit errors"] += 1
                self._set(last_emit_error=f"{type(exc).__name__}: {exc}")


class J1939Source(_BusSource):
    """Passive J1939 (and broadcast OBD response) reader; never transmits."""

    def __init__(
        self,
        bus_config: dict[str, Any],
        dbc_paths: Iterable[str] = (),
        obd: bool = False,
        name: str = "j1939",
    ) -> None:
        super().__init__(bus_config, name)
        self.decoder = CanDecoder(list(dbc_paths), obd=obd, j1939=True)

    def health(self) -> dict[str, Any]:
        out = super().health()
        out["skipped"] = _copy(self.decoder.skipped)
        return out

    def _session(self, bus: can.BusABC) -> None:
        while not self._stop.is_set():
            msg = bus.recv(timeout=0.2)
            if msg is None:
                continue
            self.counts["frames"] += 1
            self._out(self.decoder.feed(msg))


# --- OBD-II poller -----------------------------------------------------------------------


class _IdListener(can.Listener):
    """Routes received frames to per-ECU queues and collects discovery answers."""

    def __init__(self, owner: ObdPollerSource) -> None:
        self.owner = owner
        self.queues: dict[int, queue.Queue[can.Message]] = {}
        self.discovery: queue.Queue[can.Message] | None = None
        self.error: BaseException | None = None

    def on_message_received(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        q = self.queues.get(msg.arbitration_id)
        if q is not None:
            q.put(msg)
        disc = self.discovery
        if disc is not None and self.owner._is_response_id(msg):
            disc.put(msg)

    def on_error(self, exc: Exception) -> None:
        self.error = exc


@dataclass
class _Ecu:
    rxid: int
    txid: int
    source: str
    stack: isotp.TransportLayer
    supported: set[int] = field(default_factory=set)
    misses: int = 0
    quiet: bool = False
    backoff_s: float = BACKOFF_START_S
    next_probe: float = 0.0
    unsupported: set[bytes] = field(default_factory=set)


class ObdPollerSource(_BusSource):
    """Active OBD-II poller (ISO 15765-4) over can-isotp.

    ``pids``: mode-01 PID -> poll period (s); PIDs an ECU does not support are skipped.
    ``addressing``: "11bit" (7DF / 7E0-7E7 -> 7E8-7EF) or "29bit" (18DB33F1 /
    18DAxxF1 -> 18DAF1xx). An ECU missing ``quiet_after`` answers in a row is probed with
    exponential backoff (``BACKOFF_START_S`` .. ``max_backoff_s``) until it answers again."""

    def __init__(
        self,
        bus_config: dict[str, Any],
        pids: dict[int, float],
        addressing: str = "11bit",
        *,
        dtc_period_s: float = 60.0,
        vin_period_s: float = 3600.0,
        response_timeout_s: float = 0.2,
        quiet_after: int = 3,
        max_backoff_s: float = BACKOFF_MAX_S,
        rediscover_s: float = 300.0,
        name: str = "obd",
    ) -> None:
        super().__init__(bus_config, name)
        if addressing not in ("11bit", "29bit"):
            raise ValueError(f"addressing must be '11bit' or '29bit', not {addressing!r}")
        for pid, period in pids.items():
            if not 0 < pid < 0x100 or period <= 0:
                raise ValueError(f"bad PID/period {pid!r}: {period!r}")
        self.pids = dict(pids)
        self.addressing = addressing
        self.dtc_period_s = dtc_period_s
        self.vin_period_s = vin_period_s
        self.response_timeout_s = response_timeout_s
        self.quiet_after = quiet_after
        self.max_backoff_s = max_backoff_s
        self.rediscover_s = rediscover_s
        self._ecus: dict[int, _Ecu] = {}
        self._tx_error: BaseException | None = None

    # --- addressing ---

    def _is_response_id(self, msg: can.Message) -> bool:
        aid = msg.arbitration_id
        if self.addressing == "11bit":
            return not msg.is_extended_id and 0x7E8 <= aid <= 0x7EF
        return msg.is_extended_id and (aid & 0x1FFFFF00) == 0x18DAF100

    def _functional(self) -> can.Message:
        data = bytes([0x02, 0x01, 0x00, 0x55, 0x55, 0x55, 0x55, 0x55])
        if self.addressing == "11bit":
            return can.Message(arbitration_id=0x7DF, data=data, is_extended_id=False)
        return can.Message(arbitration_id=0x18DB33F1, data=data, is_extended_id=True)

    def _tx_for(self, rxid: int) -> tuple[int, str]:
        if self.addressing == "11bit":
            return rxid - 8, f"obd:{rxid:03X}"
        return 0x18DA00F1 | ((rxid & 0xFF) << 8), f"obd:{rxid:08X}"

    # --- health ---

    def health(self) -> dict[str, Any]:
        out = super().health()
        with self._lock:
            out["ecus"] = {
                e.source: {
                    "quiet": e.quiet,
                    "misses": e.misses,
                    "backoff_s": e.backoff_s,
                    "supported_pids": len(e.supported),
                }
                for e in self._ecus.values()
            }
        return out

    # --- session ---

    def _session(self, bus: can.BusABC) -> None:
        listener = _IdListener(self)
        notifier = can.Notifier(bus, [listener], timeout=0.1)
        try:
            self._poll_loop(bus, listener)
        finally:
            notifier.stop()
            for ecu in self._ecus.values():
                ecu.stack.stop()
            with self._lock:
                self._ecus.clear()

    def _make_stack(self, bus: can.BusABC, listener: _IdListener, rxid: int) -> _Ecu:
        txid, source = self._tx_for(rxid)
        q: queue.Queue[can.Message] = queue.Queue()
        listener.queues[rxid] = q
        extended = self.addressing == "29bit"
        mode = (
            isotp.AddressingMode.Normal_29bits if extended else isotp.AddressingMode.Normal_11bits
        )

        def rxfn(timeout: float) -> isotp.CanMessage | None:
            try:
                m = q.get(timeout=timeout)
            except queue.Empty:
                return None
            return isotp.CanMessage(m.arbitration_id, m.dlc, bytes(m.data), m.is_extended_id)

        def txfn(m: isotp.CanMessage) -> None:
            try:
                bus.send(
                    can.Message(
                        arbitration_id=m.arbitration_id,
                        data=m.data,
                        is_extended_id=m.is_extended_id,
                    ),
                    timeout=0.05,
                )
            except can.CanError as exc:  # TX queue full / bus off: the poller backs off
                self._tx_error = exc

        stack = isotp.TransportLayer(
            rxfn=rxfn,
            txfn=txfn,
            address=isotp.Address(mode, txid=txid, rxid=rxid),
            error_handler=lambda exc: self.counts.update([f"isotp {type(exc).__name__}"]),
            params={"tx_padding": 0x55, "blocksize": 0, "stmin": 0},
        )
        stack.start()
        return _Ecu(rxid, txid, source, stack)

    def _discover(self, bus: can.BusABC, listener: _IdListener) -> None:
        disc: queue.Queue[can.Message] = queue.Queue()
        listener.discovery = disc
        try:
            bus.send(self._functional(), timeout=0.1)
            deadline = time.monotonic() + max(self.response_timeout_s, 0.1)
            found: dict[int, bytes] = {}
            while (left := deadline - time.monotonic()) > 0:
                try:
                    m = disc.get(timeout=left)
                except queue.Empty:
                    break
                d = bytes(m.data)
                if len(d) >= 7 and d[0] == 0x06 and d[1] == 0x41 and d[2] == 0x00:
                    found[m.arbitration_id] = d[3:7]
        finally:
            listener.discovery = None
        for rxid, bitmap in sorted(found.items()):
            if rxid in self._ecus:
                continue
            ecu = self._make_stack(bus, listener, rxid)
            ecu.supported = obd.decode_supported(0x00, bitmap)
            with self._lock:
                self._ecus[rxid] = ecu
            self.counts["ecus discovered"] += 1
            self._walk_bitmaps(ecu)

    def _walk_bitmaps(self, ecu: _Ecu) -> None:
        base = 0x20
        while base in ecu.supported and base <= 0xE0 and not self._stop.is_set():
            payload = self._request(ecu, bytes([0x01, base]))
            if payload is None:
                break
            ecu.supported |= obd.decode_supported(base, payload[2:6])
            base += 0x20

    def _request(self, ecu: _Ecu, req: bytes) -> bytes | None:
        """Send one request to one ECU; the matching positive response or None."""
        while ecu.stack.available():  # late answers to an earlier request
            ecu.stack.recv()
            self.counts["late responses"] += 1
        self._tx_error = None
        ecu.stack.send(req)
        self.counts["requests"] += 1
        want = req[0] + 0x40
        deadline = time.monotonic() + self.response_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            payload = ecu.stack.recv(block=True, timeout=left)
            if payload is None:
                break
            payload = bytes(payload)
            if len(payload) >= 3 and payload[0] == 0x7F and payload[1] == req[0]:
                if payload[2] == 0x78:  # response pending: the ECU needs more time
                    deadline = time.monotonic() + 5 * self.response_timeout_s
                    continue
                self.counts["negative responses"] += 1
                ecu.unsupported.add(req)
                self._answered(ecu)
                return None
            if payload[:1] == bytes([want]) and (len(req) < 2 or payload[1:2] == req[1:2]):
                self._answered(ecu)
                return payload
            self.counts["unexpected responses"] += 1
        if self._tx_error is not None:
            self._bus_error(self._tx_error)
            self.counts["bus busy"] += 1
            raise _BusBusy()
        self._missed(ecu)
        return None

    def _answered(self, ecu: _Ecu) -> None:
        self.counts["responses"] += 1
        if ecu.quiet:
            self.counts["ecu recoveries"] += 1
        with self._lock:
            ecu.misses, ecu.quiet, ecu.backoff_s = 0, False, BACKOFF_START_S

    def _missed(self, ecu: _Ecu) -> None:
        self.counts["timeouts"] += 1
        with self._lock:
            ecu.misses += 1
            if ecu.quiet:
                ecu.backoff_s = min(ecu.backoff_s * 2, self.max_backoff_s)
            elif ecu.misses >= self.quiet_after:
                ecu.quiet = True
                ecu.backoff_s = min(BACKOFF_START_S, self.max_backoff_s)
                self.counts["ecu went quiet"] += 1
            ecu.next_probe = time.monotonic() + ecu.backoff_s

    def _jobs(self, ecu: _Ecu) -> list[tuple[bytes, float]]:
        jobs = [
            (bytes([0x01, pid]), period)
            for pid, period in sorted(self.pids.items())
            if pid in ecu.supported
        ]
        if 0x01 in ecu.supported and 0x01 not in self.pids:
            jobs.append((b"\x01\x01", self.dtc_period_s))
        jobs += [
            (b"\x03", self.dtc_period_s),
            (b"\x07", self.dtc_period_s),
            (b"\x0a", self.dtc_period_s),
            (b"\x09\x02", self.vin_period_s),
        ]
        return [(req, period) for req, period in jobs if req not in ecu.unsupported]

    def _poll_loop(self, bus: can.BusABC, listener: _IdListener) -> None:
        due: dict[tuple[int, bytes], float] = {}
        next_discovery = 0.0
        discovery_backoff = BACKOFF_START_S
        busy_backoff = 0.05
        while not self._stop.is_set():
            if listener.error is not None:
                raise listener.error
            now = time.monotonic()
            try:
                if now >= next_discovery:
                    self._discover(bus, listener)
                    if self._ecus:
                        next_discovery = now + self.rediscover_s
                        discovery_backoff = BACKOFF_START_S
                    else:
                        next_discovery = now + discovery_backoff
                        discovery_backoff = min(discovery_backoff * 2, self.max_backoff_s)
                        self.counts["discovery found nothing"] += 1
                if self._run_due(due):
                    busy_backoff = 0.05
                    continue
            except _BusBusy:
                self._stop.wait(busy_backoff)
                busy_backoff = min(busy_backoff * 2, self.max_backoff_s)
                continue
            except can.CanError as exc:
                self._bus_error(exc)
                self._stop.wait(busy_backoff)
                busy_backoff = min(busy_backoff * 2, self.max_backoff_s)
                continue
            wake = min(
                [
                    next_discovery,
                    *due.values(),
                    *(e.next_probe for e in self._ecus.values() if e.quiet),
                ]
            )
            self._stop.wait(max(0.0, min(wake - time.monotonic(), 0.5)))

    def _run_due(self, due: dict[tuple[int, bytes], float]) -> bool:
        """Run the most overdue request; True if one ran."""
        now = time.monotonic()
        best: tuple[float, _Ecu, bytes, float] | None = None
        for ecu in list(self._ecus.values()):
            if ecu.quiet:
                if now >= ecu.next_probe and (best is None or ecu.next_probe < best[0]):
                    best = (ecu.next_probe, ecu, b"\x01\x00", 0.0)
                continue
            for req, period in self._jobs(ecu):
                at = due.setdefault((ecu.rxid, req), now)
                if at <= now and (best is None or at < best[0]):
                    best = (at, ecu, req, period)
        if best is None:
            return False
        _, ecu, req, period = best
        payload = self._request(ecu, req)
        if period:
            due[(ecu.rxid, req)] = max(now, due[(ecu.rxid, req)]) + period
        if payload is not None:
            self._decode(ecu, payload)
        return True

    def _decode(self, ecu: _Ecu, payload: bytes) -> None:
        try:
            decoded = obd.decode_response(payload)
        except obd.UnknownPid as exc:
            self.counts["responses not decoded"] += 1
            decoded = exc.partial
        except ValueError:
            self.counts["responses not decoded"] += 1
            return
        t_ms = int(time.time() * 1000)
        self._out(Signal(t_ms, name, value, unit, ecu.source) for name, value, unit in decoded)


class _BusBusy(Exception):
    """A request could not be transmitted; the poll loop backs off."""
