"""Passive ISO 15765-2 (ISO-TP) reassembly of frames seen in a log or on a bus.

The live poller lets can-isotp run the transport; replay only *observes* both sides, so
this reassembler rebuilds each payload per CAN id from Single/First/Consecutive frames and
ignores Flow Control. Broken transfers are counted in ``skipped`` by reason, never raised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# N_Cr: a receiver gives up after 1000 ms without the next consecutive frame.
CF_TIMEOUT_S = 1.0


@dataclass(slots=True)
class _Transfer:
    size: int
    data: bytearray
    next_sn: int
    last_s: float


class IsoTpReassembler:
    """``feed(can_id, data, t_s)`` returns a complete payload or None."""

    def __init__(self, skipped: Counter[str] | None = None) -> None:
        self.skipped: Counter[str] = skipped if skipped is not None else Counter()
        self._open: dict[int, _Transfer] = {}

    def feed(self, can_id: int, data: bytes, t_s: float) -> bytes | None:
        if not data:
            self.skipped["isotp empty frame"] += 1
            return None
        kind = data[0] >> 4
        if kind == 0:  # single frame
            size = data[0] & 0xF
            if size == 0 and len(data) > 8:  # CAN FD escape: length in byte 1
                size, body = data[1], data[2:]
            else:
                body = data[1:]
            if can_id in self._open:
                del self._open[can_id]
                self.skipped["isotp interrupted transfer"] += 1
            if size == 0 or size > len(body):
                self.skipped["isotp bad single frame length"] += 1
                return None
            return bytes(body[:size])
        if kind == 1:  # first frame
            if len(data) < 8:
                self.skipped["isotp short first frame"] += 1
                return None
            if can_id in self._open:
                self.skipped["isotp interrupted transfer"] += 1
            size = ((data[0] & 0xF) << 8) | data[1]
            self._open[can_id] = _Transfer(size, bytearray(data[2:]), 1, t_s)
            return None
        if kind == 2:  # consecutive frame
            tr = self._open.get(can_id)
            if tr is None:
                self.skipped["isotp consecutive frame without first"] += 1
                return None
            if t_s - tr.last_s > CF_TIMEOUT_S:
                del self._open[can_id]
                self.skipped["truncated transfer"] += 1
                return None
            if data[0] & 0xF != tr.next_sn:
                del self._open[can_id]
                self.skipped["isotp sequence error"] += 1
                return None
            tr.data += data[1:]
            tr.next_sn = (tr.next_sn + 1) & 0xF
            tr.last_s = t_s
            if len(tr.data) >= tr.size:
                del self._open[can_id]
                return bytes(tr.data[: tr.size])
            return None
        if kind == 3:  # flow control: the other side's pacing, nothing to rebuild
            return None
        self.skipped["isotp unknown frame type"] += 1
        return None

    def flush(self) -> int:
        """Count transfers still open as truncated (end of log); returns how many."""
        n = len(self._open)
        if n:
            self.skipped["truncated transfer"] += n
        self._open.clear()
        return n
