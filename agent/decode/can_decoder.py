"""One CAN frame in, vehicle Signals out: J1939 (+ optional DBC files) and OBD-II responses.

``CanDecoder.feed(msg)`` dispatches a ``can.Message`` by identifier:

* 11-bit 0x7E8-0x7EF and 29-bit 0x18DAF1xx are OBD-II responses, reassembled with
  passive ISO-TP and decoded whether or not the request was seen (source ``obd:7E8``);
* every other 29-bit frame is J1939: transport sessions are reassembled, known PGNs are
  decoded (source ``j1939:sa=0x00``); a PGN described by a loaded DBC is decoded with
  cantools (source ``dbc:sa=0x00``), matched on PGN so any source address fits;
* other 11-bit frames are decoded only when a loaded DBC describes their id (source
  ``dbc:123``).

Everything else (error/remote/FD frames, OBD requests, other 11-bit traffic, unknown
PGNs, broken transfers) is counted in ``skipped`` by reason and never becomes a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import can

from agent.decode import j1939 as j1939_codec
from agent.decode import obd as obd_codec
from agent.decode.isotp_frames import IsoTpReassembler
from agent.model import Signal

_OBD_RESP_MASK, _OBD_RESP_29 = 0x1FFFFF00, 0x18DAF100
_OBD_REQ_MASK, _OBD_REQ_29 = 0x1FFF00FF, 0x18DA00F1
_OBD_FUNC_29 = 0x18DB33F1
_ID_CACHE_MAX = 4096


class _DbcGroup:
    """The signals one DBC message contributes to one PGN."""

    __slots__ = ("message", "names")

    def __init__(self, message: Any, names: dict[str, tuple[str, str]]) -> None:
        self.message = message
        self.names = names  # DBC signal name -> (output name, unit)


def _load_dbc(paths: Iterable[str]) -> tuple[dict[int, _DbcGroup], dict[int, _DbcGroup]]:
    """(29-bit groups by PGN, 11-bit groups by id). A signal with a known SPN attribute
    gets the built-in name (docs/signals.md); others are named ``DBC.<message>.<signal>``."""
    import cantools

    by_pgn: dict[int, _DbcGroup] = {}
    by_id: dict[int, _DbcGroup] = {}
    for path in paths:
        db = cantools.database.load_file(path, strict=False)
        for message in db.messages:
            names: dict[str, tuple[str, str]] = {}
            for sig in message.signals:
                spn = sig.dbc.attributes.get("SPN") if sig.dbc is not None else None
                known = j1939_codec.spn_name(int(spn.value)) if spn is not None else None
                names[sig.name] = known or (f"DBC.{message.name}.{sig.name}", sig.unit or "")
            if message.is_extended_frame:
                _, pgn, _, _ = j1939_codec.parse_id(message.frame_id)
                by_pgn[pgn] = _DbcGroup(message, names)
            else:
                by_id[message.frame_id] = _DbcGroup(message, names)
    return by_pgn, by_id


class CanDecoder:
    """Stateful frame decoder (transport sessions span frames); one per bus or log."""

    def __init__(self, dbc_paths: Iterable[str] = (), obd: bool = True, j1939: bool = True):
        self.skipped: Counter[str] = Counter()
        self.obd = obd
        self.j1939 = j1939
        self._tp = j1939_codec.TransportReassembler(self.skipped)
        self._isotp = IsoTpReassembler(self.skipped)
        self._dbc, self._dbc11 = _load_dbc(dbc_paths)
        # Built-in names a DBC already provides for the same PGN are not emitted twice.
        self._dbc_shadow: dict[int, frozenset[str]] = {
            pgn: frozenset(n for n, _ in g.names.values()) for pgn, g in self._dbc.items()
        }
        self._ids: dict[int, tuple[int, int, int, str]] = {}
        self.frames = 0

    def feed(self, msg: can.Message) -> list[Signal]:
        self.frames += 1
        if msg.is_error_frame:
            self.skipped["error frame"] += 1
            return []
        if msg.is_remote_frame:
            self.skipped["remote frame"] += 1
            return []
        if msg.is_fd:
            self.skipped["can-fd frame"] += 1
            return []
        aid = msg.arbitration_id
        t_s = msg.timestamp
        if not msg.is_extended_id:
            if self.obd and 0x7E8 <= aid <= 0x7EF:
                return self._obd(aid, f"obd:{aid:03X}", msg.data, t_s)
            if self.obd and (aid == 0x7DF or 0x7E0 <= aid <= 0x7E7):
                self.skipped["obd request"] += 1
                return []
            group = self._dbc11.get(aid)
            if group is not None:
                return self._dbc_signals(group, msg.data, f"dbc:{aid:03X}", int(t_s * 1000))
            self.skipped["non-j1939 11-bit traffic"] += 1
            return []
        if self.obd:
            if aid & _OBD_RESP_MASK == _OBD_RESP_29:
                return self._obd(aid, f"obd:{aid:08X}", msg.data, t_s)
            if aid & _OBD_REQ_MASK == _OBD_REQ_29 or aid == _OBD_FUNC_29:
                self.skipped["obd request"] += 1
                return []
        if not self.j1939:
            self.skipped["j1939 disabled"] += 1
            return []
        ident = self._ids.get(aid)
        if ident is None:
            _, pgn, sa, da = j1939_codec.parse_id(aid)
            ident = (pgn, sa, da, f"0x{sa:02X}")
            if len(self._ids) < _ID_CACHE_MAX:  # a flood of random ids must not grow memory
                self._ids[aid] = ident
        pgn, sa, da, sa_text = ident
        data = msg.data
        if pgn == j1939_codec.PGN_TP_CM or pgn == j1939_codec.PGN_TP_DT:
            done = self._tp.feed(pgn, sa, da, bytes(data), t_s)
            if done is None:
                return []
            pgn, sa, _, data = done
        return self._group(pgn, sa, sa_text, data, int(t_s * 1000))

    def _group(self, pgn: int, sa: int, sa_text: str, data: Any, t_ms: int) -> list[Signal]:
        out: list[Signal] = []
        shadow: frozenset[str] = frozenset()
        dbc = self._dbc.get(pgn) if self._dbc else None
        if dbc is not None:
            shadow = self._dbc_shadow[pgn]
            out = self._dbc_signals(dbc, data, "dbc:sa=" + sa_text, t_ms)
        try:
            decoded = j1939_codec.decode_pgn(pgn, sa, data)
        except ValueError:
            self.skipped["short j1939 frame"] += 1
            return out
        if decoded is None:
            if dbc is None:
                self.skipped["unknown pgn"] += 1
            return out
        src = "j1939:sa=" + sa_text
        for name, value, unit in decoded:
            if name not in shadow:
                out.append(Signal(t_ms, name, value, unit, src))
        return out

    def _dbc_signals(self, group: _DbcGroup, data: Any, source: str, t_ms: int) -> list[Signal]:
        try:
            values = group.message.decode(bytes(data), decode_choices=False)
        except Exception:  # cantools raises several types for short/odd payloads
            self.skipped["dbc decode error"] += 1
            return []
        out = []
        for sig_name, value in values.items():
            name, unit = group.names[sig_name]
            out.append(Signal(t_ms, name, value, unit, source))
        return out

    def _obd(self, aid: int, source: str, data: Any, t_s: float) -> list[Signal]:
        payload = self._isotp.feed(aid, data, t_s)
        if payload is None:
            return []
        try:
            decoded = obd_codec.decode_response(payload)
        except obd_codec.UnknownPid as exc:
            self.skipped["obd pid not decoded"] += 1
            decoded = exc.partial
        except ValueError as exc:
            reason = "obd negative response" if "negative" in str(exc) else "obd malformed"
            self.skipped[reason] += 1
            return []
        t_ms = int(t_s * 1000)
        return [Signal(t_ms, name, value, unit, source) for name, value, unit in decoded]

    def flush(self) -> None:
        """End of input: count transfers still open as truncated."""
        self._tp.flush()
        self._isotp.flush()
