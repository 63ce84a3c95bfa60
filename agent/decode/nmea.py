"""NMEA 0183 decoding: bytes from a GNSS receiver in, ``Position`` fixes out.

``NmeaDecoder`` chains the byte-stream framer (``nmea_framer``), the field parsers
below and the epoch assembler (``nmea_epoch``). Every sentence that is not used is
counted: rejected ones by reason (``stats()["rejects"]``), valid but unused ones
(satellites in view, text, proprietary ``$P...``) under ``stats()["ignored"]``.

Field parsing follows NMEA 0183 v2.3-4.11: RMC, GGA, GNS, GSA, VTG, GST, GLL, ZDA from
the talkers GP, GN, GL, GA, GB/BD, GQ/QZ and GI.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from agent.decode.nmea_epoch import ClockParams, EpochAssembler, ReceiverClock, Sentence
from agent.decode.nmea_framer import DEFAULT_MAX_CHARS, NmeaFramer
from agent.model import Position

SUPPORTED_TALKERS = frozenset({"GP", "GN", "GL", "GA", "GB", "BD", "GQ", "QZ", "GI"})

REJECT_BAD_ADDRESS = "bad_address"  # address field is not TTSSS (talker + type)
REJECT_UNSUPPORTED = "unsupported"  # well-formed, but from an unknown talker
REJECT_PARSE_ERROR = "parse_error"  # checksum fine, fields malformed
REJECT_BAD_DATE = "bad_date"  # date field present but impossible (the rest is used)
IGNORED_PROPRIETARY = "proprietary"

KNOT_MPS = 1852.0 / 3600.0
# GNS mode indicator -> GGA fix quality equivalent.
_GNS_QUALITY = {"A": 1, "D": 2, "P": 3, "R": 4, "F": 5, "E": 6, "M": 7, "S": 8}


class NmeaFieldError(ValueError):
    """A sentence with a good checksum whose fields make no sense."""


def _num(field: str) -> float | None:
    if not field:
        return None
    value = float(field)
    if not math.isfinite(value):
        raise NmeaFieldError(f"not a finite number: {field!r}")
    return value


def _int(field: str) -> int | None:
    return int(field) if field else None


def parse_time(field: str) -> int | None:
    """``hhmmss[.sss]`` -> ms since midnight UTC."""
    if not field:
        return None
    if len(field) < 6 or not field[:6].isdigit():
        raise NmeaFieldError(f"bad time {field!r}")
    hh, mm = int(field[0:2]), int(field[2:4])
    ss = float(field[4:])
    if hh > 23 or mm > 59 or not 0 <= ss < 61:
        raise NmeaFieldError(f"bad time {field!r}")
    return (hh * 3600 + mm * 60) * 1000 + round(ss * 1000)


def parse_coord(value: str, hemi: str, *, lat: bool) -> float | None:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` with N/S/E/W -> signed degrees."""
    if not value:
        return None
    dot = value.find(".")
    if dot < 0:
        dot = len(value)
    if dot < 3 or not value[: dot - 2].isdigit():
        raise NmeaFieldError(f"bad coordinate {value!r}")
    degrees = int(value[: dot - 2])
    minutes = float(value[dot - 2 :])
    limit = 90 if lat else 180
    if not 0 <= minutes < 60 or degrees > limit:
        raise NmeaFieldError(f"bad coordinate {value!r}")
    result = degrees + minutes / 60.0
    if result > limit:
        raise NmeaFieldError(f"coordinate out of range {value!r}")
    positive, negative = ("N", "S") if lat else ("E", "W")
    if hemi == positive:
        return result
    if hemi == negative:
        return -result
    raise NmeaFieldError(f"bad hemisphere {hemi!r}")


def parse_date(field: str) -> dt.date | None:
    """RMC ``ddmmyy`` -> date (yy 80-99 = 19yy, 00-79 = 20yy). Raises on nonsense."""
    if not field:
        return None
    if len(field) != 6 or not field.isdigit():
        raise NmeaFieldError(f"bad date {field!r}")
    yy = int(field[4:6])
    try:
        return dt.date(1900 + yy if yy >= 80 else 2000 + yy, int(field[2:4]), int(field[0:2]))
    except ValueError as exc:
        raise NmeaFieldError(f"bad date {field!r}") from exc


def _need(fields: list[str], n: int, kind: str) -> None:
    if len(fields) < n:
        raise NmeaFieldError(f"{kind} has {len(fields)} fields, needs {n}")


def _date_or_flag(s: Sentence, field: str) -> None:
    try:
        s.date = parse_date(field)
    except NmeaFieldError:
        s.date_invalid = True


def _rmc(t: str, f: list[str]) -> Sentence:
    _need(f, 9, "RMC")
    s = Sentence("RMC", t, tod_ms=parse_time(f[0]))
    s.lat, s.lon = parse_coord(f[2], f[3], lat=True), parse_coord(f[4], f[5], lat=False)
    knots = _num(f[6])
    s.speed_mps = None if knots is None else knots * KNOT_MPS
    s.course_deg = _num(f[7])
    _date_or_flag(s, f[8])
    mode = f[11] if len(f) > 11 else ""
    s.ok = f[1] == "A" and mode != "N"
    return s


def _gga(t: str, f: list[str]) -> Sentence:
    _need(f, 9, "GGA")
    s = Sentence("GGA", t, tod_ms=parse_time(f[0]))
    s.lat, s.lon = parse_coord(f[1], f[2], lat=True), parse_coord(f[3], f[4], lat=False)
    s.quality = _int(f[5])
    s.sats = _int(f[6])
    s.hdop = _num(f[7])
    s.alt_m = _num(f[8])
    s.ok = None if s.quality is None else s.quality > 0
    return s


def _gns(t: str, f: list[str]) -> Sentence:
    _need(f, 9, "GNS")
    s = Sentence("GNS", t, tod_ms=parse_time(f[0]))
    s.lat, s.lon = parse_coord(f[1], f[2], lat=True), parse_coord(f[3], f[4], lat=False)
    modes = f[5]
    if modes:
        used = [c for c in modes if c != "N"]
        s.quality = _GNS_QUALITY.get(used[0], 1) if used else 0
        s.ok = bool(used)
    s.sats = _int(f[6])
    s.hdop = _num(f[7])
    s.alt_m = _num(f[8])
    return s


def _gsa(t: str, f: list[str]) -> Sentence:
    _need(f, 17, "GSA")
    s = Sentence("GSA", t)
    fix = _int(f[1])
    if fix is not None:
        if fix not in (1, 2, 3):
            raise NmeaFieldError(f"bad GSA fix type {fix}")
        s.mode = 0 if fix == 1 else fix
    s.prns = tuple(p for p in f[2:14] if p)
    s.pdop, s.hdop = _num(f[14]), _num(f[15])
    return s


def _vtg(t: str, f: list[str]) -> Sentence:
    _need(f, 8, "VTG")
    s = Sentence("VTG", t)
    s.course_deg = _num(f[0])
    kmh = _num(f[6])
    if kmh is not None:
        s.speed_mps = kmh / 3.6
    else:
        knots = _num(f[4])
        s.speed_mps = None if knots is None else knots * KNOT_MPS
    return s


def _gst(t: str, f: list[str]) -> Sentence:
    _need(f, 8, "GST")
    s = Sentence("GST", t, tod_ms=parse_time(f[0]))
    lat_sd, lon_sd = _num(f[5]), _num(f[6])
    if lat_sd is not None and lon_sd is not None:
        s.eph_m = math.hypot(lat_sd, lon_sd)
    return s


def _gll(t: str, f: list[str]) -> Sentence:
    _need(f, 6, "GLL")
    s = Sentence("GLL", t, tod_ms=parse_time(f[4]))
    s.lat, s.lon = parse_coord(f[0], f[1], lat=True), parse_coord(f[2], f[3], lat=False)
    mode = f[6] if len(f) > 6 else ""
    s.ok = f[5] == "A" and mode != "N"
    return s


def _zda(t: str, f: list[str]) -> Sentence:
    _need(f, 4, "ZDA")
    s = Sentence("ZDA", t, tod_ms=parse_time(f[0]))
    if f[1] and f[2] and f[3]:
        try:
            s.date = dt.date(int(f[3]), int(f[2]), int(f[1]))
        except ValueError:
            s.date_invalid = True
    return s


PARSERS: dict[str, Callable[[str, list[str]], Sentence]] = {
    "RMC": _rmc,
    "GGA": _gga,
    "GNS": _gns,
    "GSA": _gsa,
    "VTG": _vtg,
    "GST": _gst,
    "GLL": _gll,
    "ZDA": _zda,
}


def parse_sentence(body: str) -> Sentence:
    """Parse one checksum-verified body (``"GPRMC,..."``) of a supported type.

    Raises ``NmeaFieldError`` for malformed fields or an unsupported address.
    """
    fields = body.split(",")
    address = fields[0]
    parser = PARSERS.get(address[2:])
    if len(address) != 5 or parser is None:
        raise NmeaFieldError(f"unsupported sentence {address!r}")
    try:
        return parser(address[:2], fields[1:])
    except ValueError as exc:
        raise NmeaFieldError(f"{address}: {exc}") from exc


class NmeaDecoder:
    """Bytes in, Positions out; every discarded byte or sentence is counted.

    ``feed(chunk, mono)`` takes raw receiver bytes (``mono``: the monotonic instant,
    s, they were read; None when replaying a file) and returns the fixes completed.
    ``idle()`` completes the pending fix when the line went quiet, ``finish()`` at the
    end of the stream. ``reset()`` after a reconnect forgets a partial sentence.
    """

    def __init__(
        self,
        *,
        allow_missing_checksum: bool = False,
        max_chars: int = DEFAULT_MAX_CHARS,
        clock: ClockParams | None = None,
        time_hint: Callable[[], int | None] | None = None,
        max_undated: int = 30,
        talkers: Iterable[str] = SUPPORTED_TALKERS,
    ) -> None:
        self.framer = NmeaFramer(allow_missing_checksum=allow_missing_checksum, max_chars=max_chars)
        self.clock = ReceiverClock(clock)
        self.epochs = EpochAssembler(self.clock, time_hint=time_hint, max_undated=max_undated)
        self.talkers = frozenset(talkers)
        self.rejects: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()  # checksum-valid sentences by type
        self.used = 0
        self.last_error: str | None = None  # last field error, for diagnostics

    def feed(self, chunk: bytes, mono: float | None = None) -> list[Position]:
        out: list[Position] = []
        for body in self.framer.feed(chunk):
            sentence = self._sentence(body)
            if sentence is not None:
                out += self.epochs.add(sentence, mono)
        return out

    def _sentence(self, body: str) -> Sentence | None:
        comma = body.find(",")
        address = body if comma < 0 else body[:comma]
        self.by_type[address if address[:1] == "P" else address[2:]] += 1
        if address[:1] == "P":
            self.ignored[IGNORED_PROPRIETARY] += 1
            return None
        if len(address) != 5 or not address.isalnum() or not address.isupper():
            self.rejects[REJECT_BAD_ADDRESS] += 1
            return None
        if address[:2] not in self.talkers:
            self.rejects[REJECT_UNSUPPORTED] += 1
            return None
        kind = address[2:]
        parser = PARSERS.get(kind)
        if parser is None:
            self.ignored[kind] += 1
            return None
        try:
            sentence = parser(address[:2], body.split(",")[1:])
        except ValueError as exc:
            self.rejects[REJECT_PARSE_ERROR] += 1
            self.last_error = f"{address}: {exc}"
            return None
        if sentence.date_invalid:
            self.rejects[REJECT_BAD_DATE] += 1
        self.used += 1
        return sentence

    def idle(self) -> list[Position]:
        return self.epochs.idle()

    def reset(self) -> list[Position]:
        """The device was closed: a partial sentence is lost, the pending fix completes."""
        self.framer.finish()
        return self.epochs.idle()

    def finish(self) -> list[Position]:
        self.framer.finish()
        return self.epochs.finish()

    @property
    def gnss_time(self) -> dict[str, Any] | None:
        """Last trusted receiver UTC (ms) and the monotonic instant (s) it was read."""
        trusted = self.clock.trusted
        if trusted is None:
            return None
        return {"utc_ms": trusted[0], "mono": trusted[1]}

    def stats(self) -> dict[str, Any]:
        """Counters for health data and the replay summary (plain JSON types)."""
        rejects = self.framer.rejects + self.rejects + self.epochs.drops
        return {
            "sentences": self.framer.sentences,
            "used": self.used,
            "skipped_bytes": self.framer.skipped_bytes,
            "rejects": dict(sorted(rejects.items())),
            "ignored": dict(sorted(self.ignored.items())),
            "by_type": dict(sorted(self.by_type.items())),
            "fixes": self.epochs.emitted,
            "valid_fixes": self.epochs.valid,
            "time": dict(sorted(self.clock.counts.items())),
            "gnss_time": self.gnss_time,
        }


def decode_bytes(data: bytes, **options: Any) -> tuple[list[Position], NmeaDecoder]:
    """Decode a whole capture at once (no monotonic instants); returns fixes and decoder."""
    decoder = NmeaDecoder(**options)
    fixes = decoder.feed(data)
    fixes += decoder.finish()
    return fixes, decoder
