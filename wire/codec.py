"""Compact, versioned binary codec for batches (wire contract v1).

Layout of a payload::

    b"FW"  version:u8  flags:u8  body            (flags bit 0: body is raw DEFLATE)

    body  = device_id:str  boot_id:uvarint  sent_ms:uvarint  base_time_ms:uvarint
            strings:uvarint  (len:uvarint utf8)*     -- string table, referenced by index
            groups:uvarint   (kind:u8 count:uvarint record*)*

Records are grouped by kind and each group is delta-coded against the previous record
of the same group: sequence and time as signed varints, position fields as signed
deltas of fixed-point integers (see ``records.POSITION_FIELDS``). Engine samples and
events are maps of tagged values whose keys and strings come from the string table.
For 1 Hz positions this comes to roughly ten bytes a fix after DEFLATE.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable
from typing import Any

from wire.errors import UnsupportedVersion, WireError
from wire.records import (
    KIND_ENGINE,
    KIND_EVENT,
    KIND_POSITION,
    POSITION_FIELDS,
    Batch,
    Record,
)

MAGIC = b"FW"
CODEC_VERSION = 1
FLAG_DEFLATE = 0x01
MAX_PAYLOAD = 4 * 1024 * 1024  # refuse to inflate anything larger than this

_KIND_CODES = {KIND_POSITION: 0, KIND_ENGINE: 1, KIND_EVENT: 2}
_KIND_NAMES = {v: k for k, v in _KIND_CODES.items()}

# Tags of generic values.
_T_NONE, _T_FALSE, _T_TRUE, _T_INT, _T_F64, _T_STR, _T_LIST, _T_MAP, _T_F32 = range(9)
_POS_NAMES = {name for name, _ in POSITION_FIELDS} | {"valid"}


# ---------------------------------------------------------------- primitives
def _uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise WireError(f"negative value {value} where an unsigned one is required")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _svarint(out: bytearray, value: int) -> None:
    if not -(1 << 63) <= value < (1 << 63):
        raise WireError(f"integer {value} does not fit in 64 bits")
    _uvarint(out, (value << 1) ^ (value >> 63))  # zigzag: small magnitudes, few bytes


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise WireError("payload truncated")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def uvarint(self) -> int:
        shift = 0
        result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise WireError("varint too long")

    def svarint(self) -> int:
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise WireError("payload truncated")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        idx = self.index.get(text)
        if idx is None:
            idx = self.index[text] = len(self.index)
        return idx


# ---------------------------------------------------------------- generic values
def _put_value(out: bytearray, strings: _Strings, value: Any, depth: int = 0) -> None:
    if depth > 16:
        raise WireError("value nested too deeply")
    if value is None:
        out.append(_T_NONE)
    elif value is True:
        out.append(_T_TRUE)
    elif value is False:
        out.append(_T_FALSE)
    elif isinstance(value, int):
        out.append(_T_INT)
        _svarint(out, value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise WireError(f"non-finite number {value!r} cannot be sent")
        # Floats stay floats (the decoder gives back the same type); four bytes when
        # single precision holds the value exactly, eight otherwise.
        f32 = struct.pack("<f", value) if abs(value) < 3.4e38 else b""
        if f32 and struct.unpack("<f", f32)[0] == value:
            out.append(_T_F32)
            out += f32
        else:
            out.append(_T_F64)
            out += struct.pack("<d", value)
    elif isinstance(value, str):
        out.append(_T_STR)
        _uvarint(out, strings.ref(value))
    elif isinstance(value, list | tuple):
        out.append(_T_LIST)
        _uvarint(out, len(value))
        for item in value:
            _put_value(out, strings, item, depth + 1)
    elif isinstance(value, dict):
        out.append(_T_MAP)
        _put_map(out, strings, value, depth + 1)
    else:
        raise WireError(f"cannot encode value of type {type(value).__name__}")


def _put_map(out: bytearray, strings: _Strings, mapping: dict[str, Any], depth: int = 0) -> None:
    _uvarint(out, len(mapping))
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise WireError(f"map keys must be strings, got {key!r}")
        _uvarint(out, strings.ref(key))
        _put_value(out, strings, value, depth)


def _get_value(r: _Reader, strings: list[str], depth: int = 0) -> Any:
    if depth > 16:
        raise WireError("value nested too deeply")
    tag = r.byte()
    if tag == _T_NONE:
        return None
    if tag == _T_TRUE:
        return True
    if tag == _T_FALSE:
        return False
    if tag == _T_INT:
        return r.svarint()
    if tag == _T_F32:
        return struct.unpack("<f", r.take(4))[0]
    if tag == _T_F64:
        return struct.unpack("<d", r.take(8))[0]
    if tag == _T_STR:
        return _string(strings, r.uvarint())
    if tag == _T_LIST:
        n = r.uvarint()
        _check_count(r, n)
        return [_get_value(r, strings, depth + 1) for _ in range(n)]
    if tag == _T_MAP:
        return _get_map(r, strings, depth + 1)
    raise WireError(f"unknown value tag {tag}")


def _get_map(r: _Reader, strings: list[str], depth: int = 0) -> dict[str, Any]:
    n = r.uvarint()
    _check_count(r, n)
    out: dict[str, Any] = {}
    for _ in range(n):
        key = _string(strings, r.uvarint())
        out[key] = _get_value(r, strings, depth)
    return out


def _string(strings: list[str], idx: int) -> str:
    if idx >= len(strings):
        raise WireError(f"string index {idx} outside the table of {len(strings)}")
    return strings[idx]


def _check_count(r: _Reader, n: int) -> None:
    # Every element takes at least one byte: a larger count is a corrupt payload.
    if n > len(r.buf) - r.pos:
        raise WireError(f"count {n} larger than the rest of the payload")


# ---------------------------------------------------------------- positions
def _put_position(out: bytearray, strings: _Strings, data: dict[str, Any], prev: list[int]) -> None:
    present = 0
    ints: list[int] = []
    for i, (name, scale) in enumerate(POSITION_FIELDS):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(f"position field {name} must be a number, got {value!r}")
        present |= 1 << i
        ints.append(round(value * scale))
    valid = data.get("valid")
    nfields = len(POSITION_FIELDS)
    if valid is not None:
        present |= 1 << nfields
        if valid:
            present |= 1 << (nfields + 1)
    _uvarint(out, present)
    k = 0
    for i in range(nfields):
        if present >> i & 1:
            _svarint(out, ints[k] - prev[i])
            prev[i] = ints[k]
            k += 1
    extras = {key: val for key, val in data.items() if key not in _POS_NAMES}
    _put_map(out, strings, extras)


def _get_position(r: _Reader, strings: list[str], prev: list[int]) -> dict[str, Any]:
    present = r.uvarint()
    data: dict[str, Any] = {}
    nfields = len(POSITION_FIELDS)
    for i, (name, scale) in enumerate(POSITION_FIELDS):
        if present >> i & 1:
            prev[i] += r.svarint()
            data[name] = prev[i] if scale == 1 else prev[i] / scale
    if present >> nfields & 1:
        data["valid"] = bool(present >> (nfields + 1) & 1)
    data.update(_get_map(r, strings))
    return data


# ---------------------------------------------------------------- batches
def encode_batch(batch: Batch, compress: bool = True) -> bytes:
    """Encode a batch; raises WireError for values the contract cannot carry."""
    if not batch.records:
        raise WireError("a batch needs at least one record")
    strings = _Strings()
    body = bytearray()
    groups: dict[str, list[Record]] = {}
    for rec in batch.records:
        if rec.kind not in _KIND_CODES:
            raise WireError(f"unknown record kind {rec.kind!r}")
        if rec.seq < 0 or rec.time_ms < 0:
            raise WireError(f"record seq and time must be non-negative: {rec!r}")
        groups.setdefault(rec.kind, []).append(rec)
    base_time = min(rec.time_ms for rec in batch.records)
    _uvarint(body, len(groups))
    for kind, records in groups.items():
        body.append(_KIND_CODES[kind])
        _uvarint(body, len(records))
        prev_seq, prev_time = 0, base_time
        prev_pos = [0] * len(POSITION_FIELDS)
        for rec in records:
            _svarint(body, rec.seq - prev_seq)
            _svarint(body, rec.time_ms - prev_time)
            prev_seq, prev_time = rec.seq, rec.time_ms
            if kind == KIND_POSITION:
                _put_position(body, strings, rec.data, prev_pos)
            else:
                _put_map(body, strings, rec.data)
    head = bytearray()
    device = batch.device_id.encode()
    _uvarint(head, len(device))
    head += device
    _uvarint(head, batch.boot_id)
    _uvarint(head, batch.sent_ms)
    _uvarint(head, base_time)
    _uvarint(head, len(strings.index))
    for text in strings.index:
        raw = text.encode()
        _uvarint(head, len(raw))
        head += raw
    plain = bytes(head + body)
    flags = 0
    if compress:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        packed = deflater.compress(plain) + deflater.flush()
        if len(packed) < len(plain):
            plain, flags = packed, FLAG_DEFLATE
    return MAGIC + bytes((CODEC_VERSION, flags)) + plain


def decode_batch(payload: bytes) -> Batch:
    """Decode a payload written by ``encode_batch``; raises WireError when it is not one."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise WireError("payload must be bytes")
    payload = bytes(payload)
    if len(payload) < 4 or payload[:2] != MAGIC:
        raise WireError("not a fleetwire batch (bad magic)")
    version, flags = payload[2], payload[3]
    if version != CODEC_VERSION:
        raise UnsupportedVersion(f"codec version {version} is not supported (this side reads 1)")
    body = payload[4:]
    if flags & FLAG_DEFLATE:
        try:
            inflater = zlib.decompressobj(-15)
            body = inflater.decompress(body, MAX_PAYLOAD)
        except zlib.error as exc:
            raise WireError(f"corrupt compressed body: {exc}") from exc
        if inflater.unconsumed_tail:
            raise WireError(f"batch inflates to more than {MAX_PAYLOAD} bytes")
    elif flags:
        raise WireError(f"unknown flags 0x{flags:02x}")
    r = _Reader(body)
    try:
        device_id = r.take(r.uvarint()).decode()
        boot_id = r.uvarint()
        sent_ms = r.uvarint()
        base_time = r.uvarint()
        nstrings = r.uvarint()
        _check_count(r, nstrings)
        strings = [r.take(r.uvarint()).decode() for _ in range(nstrings)]
        records: list[Record] = []
        ngroups = r.uvarint()
        _check_count(r, ngroups)
        for _ in range(ngroups):
            code = r.byte()
            kind = _KIND_NAMES.get(code)
            if kind is None:
                raise WireError(f"unknown record kind code {code}")
            count = r.uvarint()
            _check_count(r, count)
            prev_seq, prev_time = 0, base_time
            prev_pos = [0] * len(POSITION_FIELDS)
            for _ in range(count):
                prev_seq += r.svarint()
                prev_time += r.svarint()
                if prev_seq < 0 or prev_time < 0:
                    raise WireError("negative sequence or time")
                if kind == KIND_POSITION:
                    data = _get_position(r, strings, prev_pos)
                else:
                    data = _get_map(r, strings)
                records.append(Record(kind, prev_seq, prev_time, data))
    except UnicodeDecodeError as exc:
        raise WireError(f"invalid UTF-8 in payload: {exc}") from exc
    if r.pos != len(body):
        raise WireError(f"{len(body) - r.pos} unexpected bytes after the last record")
    if not records:
        raise WireError("batch holds no records")
    records.sort(key=lambda rec: rec.seq)
    return Batch(device_id, boot_id, tuple(records), sent_ms)


def encoded_size(records: Iterable[Record], device_id: str = "dev", boot_id: int = 1) -> int:
    """Bytes one batch of these records takes on the wire (used by benchmarks and batching)."""
    return len(encode_batch(Batch(device_id, boot_id, tuple(records))))
