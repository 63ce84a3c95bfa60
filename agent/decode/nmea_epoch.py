"""Merge the NMEA sentences of one fix into a Position, with trustworthy UTC time.

A receiver reports one fix as several sentences (RMC, GGA, GNS, GSA, VTG, GST, GLL,
ZDA) that share a UTC time of day; sentences without a time (GSA, VTG, or a GGA
before the first fix) belong to the fix being reported. ``EpochAssembler`` groups
them and turns each group into a ``Position`` once the next fix begins, or when the
stream goes quiet (``idle``) or ends (``finish``).

Time: the date comes from RMC or ZDA, else is carried over from the previous fix.
``ReceiverClock`` decides whether a receiver's date can be trusted. Receivers with the
10-bit GPS week bug report dates 1024 weeks (about 19.6 years) in the past; a date
that lies before a configured floor, or jumps away from the last trusted time, is
corrected by whole 1024-week periods when that lands where time should be, and
otherwise is not used (the fix then gets the time expected from the monotonic clock
and the flag ``bad_time``, or is dropped and counted as ``bad_date``). A corrected fix
says so in ``data["time_corrected_weeks"]`` (1024), not as a flag: its time is good.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.model import Position
from wire.records import quantize_position

DAY_MS = 86_400_000
GPS_WEEK_ROLLOVER_MS = 1024 * 7 * DAY_MS
# Receivers cannot report a date before this software existed: older dates are
# week-rollover candidates. Deployments may set a later floor (e.g. the build date).
SOFTWARE_DATE_FLOOR = dt.date(2026, 1, 1)

# Reasons a fix is not turned into a Position (counted with the sentence rejects).
DROP_BAD_DATE = "bad_date"  # date implausible and no monotonic reference to replace it
DROP_NO_DATE = "no_date"  # no date was ever reported (nor assumed) for this fix
DROP_NO_TIME = "no_time"  # the sentences of this fix carried no time of day
DROP_LATE = "late"  # sentence for a fix that was already emitted

# A quality flag: the receiver's time was unusable, time_ms is an estimate (monotonic).
FLAG_BAD_TIME = "bad_time"
# Not a flag (the corrected time is good): weeks added to the receiver's date.
ROLLOVER_KEY = "time_corrected_weeks"

# Sentence types that occur once per fix: a second one starts the next fix.
_ONCE_PER_FIX = frozenset({"RMC", "GGA", "GNS", "GLL", "VTG", "GST", "ZDA"})
_POSITION_ORDER = ("GGA", "RMC", "GNS", "GLL")


@dataclass(slots=True)
class Sentence:
    """The fix-related content of one parsed sentence (None = not reported)."""

    kind: str  # RMC, GGA, GNS, GSA, VTG, GST, GLL, ZDA
    talker: str
    tod_ms: int | None = None  # UTC time of day, ms since midnight
    date: dt.date | None = None
    lat: float | None = None  # degrees, north positive
    lon: float | None = None  # degrees, east positive
    alt_m: float | None = None  # above mean sea level
    speed_mps: float | None = None
    course_deg: float | None = None  # true
    sats: int | None = None
    hdop: float | None = None
    pdop: float | None = None
    quality: int | None = None  # GGA fix quality (0 none, 1 GPS, 2 DGPS, 4/5 RTK, 6 DR)
    mode: int | None = None  # GSA: 0 no fix, 2 = 2D, 3 = 3D
    ok: bool | None = None  # the sentence's own validity indicator
    prns: tuple[str, ...] = ()  # GSA satellites used
    eph_m: float | None = None  # GST horizontal 1-sigma error
    date_invalid: bool = False  # a date field was present but impossible


@dataclass(frozen=True, slots=True)
class ClockParams:
    """How much the receiver's date is trusted.

    ``date_floor``: dates before it are treated as week-rollover victims (None: no floor).
    ``tolerance_s``: allowed disagreement with the time expected from the last trusted
    fix plus elapsed monotonic time. ``max_forward_s``: without monotonic instants
    (replaying a file), how far time may run ahead of the last trusted fix.
    ``reanchor_after``: consecutive valid, mutually consistent fixes that disagree with
    the trusted time before they replace it (the trusted time itself was wrong).
    """

    date_floor: dt.date | None = SOFTWARE_DATE_FLOOR
    tolerance_s: float = 5.0
    max_forward_s: float = 86_400.0
    reanchor_after: int = 5


def _date_ms(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


class ReceiverClock:
    """Judges receiver UTC against a floor and the last trusted fix.

    ``resolve`` returns the UTC ms to use (or None) and a status: ``ok``,
    ``corrected`` (whole 1024-week periods added), ``reanchored``, ``estimated``
    (receiver date unusable; expected time from the monotonic clock) or ``bad``.
    ``trusted`` is the last valid fix's UTC ms and the monotonic instant (s) it was
    received, for checking the system clock.
    """

    def __init__(self, params: ClockParams | None = None) -> None:
        self.params = params or ClockParams()
        p = self.params
        self._floor_ms = _date_ms(p.date_floor) if p.date_floor else None
        self._tol_ms = int(p.tolerance_s * 1000)
        self.trusted: tuple[int, float | None] | None = None
        self.last_ms: int | None = None  # last time handed out (trusted or not)
        self._suspects: list[tuple[int, float | None]] = []
        self.counts: Counter[str] = Counter()

    @property
    def floor_ms(self) -> int | None:
        return self._floor_ms

    def expected(self, mono: float | None) -> int | None:
        """UTC ms expected now from the trusted fix and the monotonic clock."""
        if self.trusted is None or mono is None or self.trusted[1] is None:
            return None
        utc, at = self.trusted
        return utc + round((mono - at) * 1000)

    def _window(self, mono: float | None) -> tuple[int, int] | None:
        expected = self.expected(mono)
        if expected is not None:
            return expected - self._tol_ms, expected + self._tol_ms
        if self.trusted is not None:
            utc = self.trusted[0]
            return utc - self._tol_ms, utc + int(self.params.max_forward_s * 1000)
        if self._floor_ms is not None:
            return self._floor_ms, self._floor_ms + GPS_WEEK_ROLLOVER_MS
        return None

    def resolve(self, utc_ms: int, mono: float | None, valid: bool) -> tuple[int | None, str]:
        window = self._window(mono)
        status = "bad"
        result: int | None = None
        if window is None:
            result, status = utc_ms, "ok"
        else:
            lo, hi = window
            for k in range(4):
                candidate = utc_ms + k * GPS_WEEK_ROLLOVER_MS
                if lo <= candidate <= hi:
                    result, status = candidate, ("ok" if k == 0 else "corrected")
                    break
        if result is None and valid and self._reanchor(utc_ms, mono):
            result, status = utc_ms, "reanchored"
        if result is None:
            expected = self.expected(mono)
            if expected is not None:
                result, status = expected, "estimated"
        elif status != "estimated" and valid:
            self.trusted = (result, mono)
            self._suspects.clear()
        if result is not None:
            self.last_ms = result
        self.counts[status] += 1
        return result, status

    def _reanchor(self, utc_ms: int, mono: float | None) -> bool:
        """Whether enough consistent valid fixes disagree with the trusted time."""
        if self._floor_ms is not None and utc_ms < self._floor_ms:
            return False
        if self._suspects:
            prev_utc, prev_mono = self._suspects[-1]
            step = utc_ms - prev_utc
            if mono is not None and prev_mono is not None:
                consistent = abs(step - (mono - prev_mono) * 1000) <= self._tol_ms
            else:
                consistent = -self._tol_ms <= step <= 60_000
            if not consistent:
                self._suspects.clear()
        self._suspects.append((utc_ms, mono))
        return len(self._suspects) >= self.params.reanchor_after


def infer_utc(tod_ms: int, reference_ms: int) -> int:
    """The UTC ms with time of day ``tod_ms`` nearest to ``reference_ms`` (±1 day)."""
    midnight = reference_ms - reference_ms % DAY_MS
    best = midnight + tod_ms
    for candidate in (best - DAY_MS, best + DAY_MS):
        if abs(candidate - reference_ms) < abs(best - reference_ms):
            best = candidate
    return best


@dataclass(slots=True)
class _Epoch:
    tod_ms: int | None
    mono: float | None
    sentences: dict[str, list[Sentence]] = field(default_factory=dict)

    def add(self, s: Sentence) -> None:
        self.sentences.setdefault(s.kind, []).append(s)

    def has(self, kind: str) -> bool:
        return kind in self.sentences


def _first(epoch: _Epoch, kinds: tuple[str, ...], attr: str) -> Any:
    for kind in kinds:
        for s in epoch.sentences.get(kind, ()):
            value = getattr(s, attr)
            if value is not None:
                return value
    return None


@dataclass(slots=True)
class _Merged:
    """One epoch's merged content, before its time is settled."""

    tod_ms: int
    date: dt.date | None
    mono: float | None
    data: dict[str, Any]


def merge_epoch(epoch: _Epoch) -> dict[str, Any]:
    """The wire position fields of an epoch (unknown values None)."""
    lat = lon = None
    for kind in _POSITION_ORDER:
        for s in epoch.sentences.get(kind, ()):
            if s.lat is not None and s.lon is not None:
                lat, lon = s.lat, s.lon
                break
        if lat is not None:
            break
    quality = _first(epoch, ("GGA", "GNS"), "quality")
    alt = _first(epoch, ("GGA", "GNS"), "alt_m")
    sats = _first(epoch, ("GGA", "GNS"), "sats")
    gsas = epoch.sentences.get("GSA", [])
    if sats is None and gsas:
        sats = len({prn for s in gsas for prn in s.prns}) or None
    mode = max((s.mode for s in gsas if s.mode is not None), default=None)
    # Every validity indicator present must agree: RMC status, GGA quality, GNS/GLL mode.
    indicators = [s.ok for kind in _POSITION_ORDER for s in epoch.sentences.get(kind, ())]
    indicators = [ok for ok in indicators if ok is not None]
    valid = bool(indicators) and all(indicators) and lat is not None
    if mode is None:
        if not valid:
            mode = 0
        elif quality and alt is not None:
            mode = 3
        else:
            mode = 2
    data: dict[str, Any] = {
        "lat": lat,
        "lon": lon,
        "alt_m": alt,
        "speed_mps": _first(epoch, ("RMC", "VTG"), "speed_mps"),
        "course_deg": _first(epoch, ("RMC", "VTG"), "course_deg"),
        "sats": sats,
        "hdop": _first(epoch, ("GGA", "GNS", "GSA"), "hdop"),
        "pdop": _first(epoch, ("GSA",), "pdop"),
        "mode": mode,
        "quality": quality,
        "valid": valid,
    }
    eph = _first(epoch, ("GST",), "eph_m")
    if eph is not None:
        data["eph_m"] = round(eph, 2)  # metres, 1 cm
    return data


class EpochAssembler:
    """Sentences in, Positions out (in stream order).

    ``mono`` is the monotonic instant (s) the sentence was received, or None when
    replaying a file. ``time_hint`` returns a rough UTC ms "now" (the system clock)
    used to date fixes from receivers that never send a date; without it such fixes
    wait (up to ``max_undated``) for a dated fix and are then dated backwards from it.
    """

    def __init__(
        self,
        clock: ReceiverClock | None = None,
        *,
        time_hint: Callable[[], int | None] | None = None,
        max_undated: int = 30,
    ) -> None:
        self.clock = clock or ReceiverClock()
        self.time_hint = time_hint
        self.max_undated = max_undated
        self.drops: Counter[str] = Counter()
        self.emitted = 0
        self.valid = 0
        self._cur: _Epoch | None = None
        self._idle_done: int | None = None  # tod of a fix completed by a pause
        self._last_date: dt.date | None = None
        self._undated: list[_Merged] = []
        self._last_mono: float | None = None

    def add(self, s: Sentence, mono: float | None = None) -> list[Position]:
        out: list[Position] = []
        self._last_mono = mono
        cur = self._cur
        if s.tod_ms is not None:
            if cur is not None and (
                (cur.tod_ms is not None and cur.tod_ms != s.tod_ms)
                or (s.kind in _ONCE_PER_FIX and cur.has(s.kind))
            ):
                out += self._complete()
                cur = None
            if cur is None:
                if s.tod_ms == self._idle_done and s.kind in _ONCE_PER_FIX:
                    # Its fix already went out (after an idle pause): too late to merge.
                    self.drops[DROP_LATE] += 1
                    return out
                cur = self._cur = _Epoch(s.tod_ms, mono)
                self._idle_done = None
            elif cur.tod_ms is None:
                cur.tod_ms = s.tod_ms
        else:
            if cur is not None and s.kind in _ONCE_PER_FIX and cur.has(s.kind):
                out += self._complete()
                cur = None
            if cur is None:
                cur = self._cur = _Epoch(None, mono)
        cur.add(s)
        return out

    def idle(self) -> list[Position]:
        """The stream paused: the fix being collected is complete."""
        if self._cur is None:
            return []
        tod = self._cur.tod_ms
        out = self._complete()
        self._idle_done = tod
        return out

    def finish(self) -> list[Position]:
        """End of stream: complete the last fix; fixes still without a date are dropped."""
        out = self.idle()
        self.drops[DROP_NO_DATE] += len(self._undated)
        self._undated.clear()
        return out

    def _complete(self) -> list[Position]:
        epoch, self._cur = self._cur, None
        if epoch is None:
            return []
        if epoch.tod_ms is None:
            if any(k in epoch.sentences for k in _POSITION_ORDER):
                self.drops[DROP_NO_TIME] += 1
            return []
        date = _first(epoch, ("RMC", "ZDA"), "date")
        merged = _Merged(epoch.tod_ms, date, epoch.mono, merge_epoch(epoch))
        return self._settle(merged)

    def _settle(self, m: _Merged) -> list[Position]:
        """Give the merged epoch its UTC time; emit it (and epochs waiting for a date)."""
        if m.date is not None:
            utc = _date_ms(m.date) + m.tod_ms
        else:
            reference = self.clock.last_ms
            if reference is None:
                reference = self.clock.expected(m.mono)
            if reference is None and self.time_hint is not None:
                hint = self.time_hint()
                floor = self.clock.floor_ms
                if hint is not None and (floor is None or hint >= floor):
                    reference = hint
            if reference is None:
                self._undated.append(m)
                if len(self._undated) > self.max_undated:
                    self._undated.pop(0)
                    self.drops[DROP_NO_DATE] += 1
                return []
            utc = infer_utc(m.tod_ms, reference)
        result, status = self.clock.resolve(utc, m.mono, bool(m.data["valid"]))
        if result is None:
            self.drops[DROP_BAD_DATE] += 1
            return []
        extra: dict[str, Any] = {}
        if status == "corrected":
            extra[ROLLOVER_KEY] = round((result - utc) / (7 * DAY_MS))
        out: list[Position] = []
        if self._undated:
            # Fixes that waited for a date: date them backwards from this one.
            for waiting in self._undated:
                when = infer_utc(waiting.tod_ms, result)
                out.append(self._position(when, waiting.data, [], extra))
            self._undated.clear()
        flags = [FLAG_BAD_TIME] if status == "estimated" else []
        out.append(self._position(result, m.data, flags, extra))
        return out

    def _position(
        self, utc_ms: int, data: dict[str, Any], flags: list[str], extra: dict[str, Any]
    ) -> Position:
        self.emitted += 1
        if data["valid"]:
            self.valid += 1
        out = quantize_position(data)
        out.update(extra)
        out["flags"] = flags
        return Position(utc_ms, out)


def iso_utc(utc_ms: int) -> str:
    """``2020-07-11T22:37:45.000Z`` for a UTC ms timestamp."""
    t = dt.datetime.fromtimestamp(utc_ms / 1000, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc_ms % 1000:03d}Z"
