"""GNSS receiver source: NMEA over a serial port (or a pyserial URL) to Positions.

The reader thread owns the port. A port that cannot be opened, fails while reading,
or stays silent for ``stall_timeout_s`` is closed and reopened after an exponential
backoff with jitter (``backoff_initial_s`` doubling up to ``backoff_max_s``); the
source never gives up and never raises out of its thread. ``health()`` tells the
agent what is going on: connected/stalled, reconnects, last error, sentence rejects
by reason, fixes emitted and the last trusted GNSS time (UTC ms plus the monotonic
instant it was read, for checking the system clock).

Fixes carry ``data["flags"]`` (``bad_time`` when the receiver's time was unusable and
the fix time is estimated); quality marking and sampling belong to the
pipeline (pass ``quality=`` to mark here instead, e.g. when the source is used alone).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from typing import Any

import serial

from agent.decode.nmea import NmeaDecoder
from agent.decode.nmea_epoch import SOFTWARE_DATE_FLOOR, ClockParams
from agent.decode.nmea_framer import DEFAULT_MAX_CHARS
from agent.model import Position
from agent.sources.base import ThreadedSource
from agent.stages.quality import QualityChecker, QualityParams

log = logging.getLogger(__name__)

_READ_SIZE = 4096


class _Stalled(Exception):
    pass


class GnssSource(ThreadedSource):
    """Read NMEA from ``url``: a device path (``/dev/ttyUSB0``) or a pyserial URL
    (``socket://host:port``, ``rfc2217://host:port``).

    ``baudrate`` in bit/s (ignored by socket URLs). ``stall_timeout_s``: no byte for
    this long = receiver silent; the port is reopened. ``backoff_initial_s`` /
    ``backoff_max_s``: reopen delay, doubled per failure, times a random 0.5-1.0.
    ``read_timeout_s``: one blocking read. ``epoch_idle_s``: a pause this long
    completes the fix being collected (otherwise the next fix's first sentence does).
    ``date_floor``: receiver dates before it are week-rollover errors (None: off).
    ``quality``: mark fixes here with these thresholds (default: leave it to the
    pipeline's quality stage).
    """

    name = "gnss"

    def __init__(
        self,
        url: str,
        baudrate: int = 9600,
        stall_timeout_s: float = 5.0,
        allow_missing_checksum: bool = False,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 5.0,
        read_timeout_s: float = 0.1,
        epoch_idle_s: float = 0.5,
        max_sentence_chars: int = DEFAULT_MAX_CHARS,
        date_floor: dt.date | None = SOFTWARE_DATE_FLOOR,
        quality: QualityParams | None = None,
        name: str = "gnss",
    ) -> None:
        if stall_timeout_s <= read_timeout_s:
            raise ValueError("stall_timeout_s must be longer than read_timeout_s")
        self.url = url
        self.baudrate = baudrate
        self.stall_timeout_s = stall_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.read_timeout_s = read_timeout_s
        self.epoch_idle_s = epoch_idle_s
        super().__init__(name)
        self._decoder = NmeaDecoder(
            allow_missing_checksum=allow_missing_checksum,
            max_chars=max_sentence_chars,
            clock=ClockParams(date_floor=date_floor),
            time_hint=lambda: int(time.time() * 1000),
        )
        self._quality = QualityChecker(quality) if quality is not None else None
        self._lock = threading.Lock()  # guards the decoder and the state below
        self._connected = False
        self._stalled = False
        self._opens = 0
        self._last_error: str | None = None
        self._last_data_mono: float | None = None
        self._emit_errors = 0

    # ------------------------------------------------------------------ contract
    def health(self) -> dict[str, Any]:
        """State and counters. ``gnss_time``: last trusted receiver UTC (``utc_ms``), the
        ``time.monotonic()`` instant it was read (``mono``) and its age in s, so GNSS UTC
        now is ``utc_ms + age_s * 1000``; None before the first trusted fix."""
        with self._lock:
            stats = self._decoder.stats()
            now = time.monotonic()
            age = None
            if self._last_data_mono is not None:
                age = round(now - self._last_data_mono, 3)
            gnss_time = stats["gnss_time"]
            if gnss_time is not None and gnss_time["mono"] is not None:
                gnss_time["age_s"] = round(now - gnss_time["mono"], 3)
            return {
                "url": self.url,
                "connected": self._connected,
                "stalled": self._stalled,
                "reconnects": max(0, self._opens - 1),
                "last_error": self._last_error,
                "last_data_age_s": age,
                "sentences": stats["sentences"],
                "rejects": stats["rejects"],
                "ignored": stats["ignored"],
                "fixes": stats["fixes"],
                "valid_fixes": stats["valid_fixes"],
                "time_checks": stats["time"],
                "gnss_time": gnss_time,
                "quality_flags": dict(self._quality.counts) if self._quality else {},
                "emit_errors": self._emit_errors,
            }

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(
                    self.url, baudrate=self.baudrate, timeout=self.read_timeout_s
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                self._set_error(f"cannot open {self.url}: {exc}")
            else:
                with self._lock:
                    self._opens += 1
                    self._connected = True
                if self._opens > 1:
                    log.info("%s: reopened %s", self.name, self.url)
                got_data = self._read_until_failure(port)
                if got_data:
                    failures = 0
            failures += 1
            delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (failures - 1))
            self._stop.wait(delay * random.uniform(0.5, 1.0))

    def _read_until_failure(self, port: serial.SerialBase) -> bool:
        """Read until the port fails, stalls or the source stops; True if data came."""
        got_data = False
        last_data = time.monotonic()
        idle_done = True
        try:
            while not self._stop.is_set():
                chunk = port.read(_READ_SIZE)
                now = time.monotonic()
                if chunk:
                    got_data, idle_done, last_data = True, False, now
                    with self._lock:
                        self._stalled = False
                        self._last_data_mono = now
                        fixes = self._mark(self._decoder.feed(chunk, now))
                    self._deliver(fixes)
                    continue
                if not idle_done and now - last_data >= self.epoch_idle_s:
                    # A pause between bursts: the fix being collected is complete.
                    idle_done = True
                    with self._lock:
                        fixes = self._mark(self._decoder.idle())
                    self._deliver(fixes)
                if now - last_data >= self.stall_timeout_s:
                    raise _Stalled(f"no data from {self.url} for {now - last_data:.1f} s")
        except _Stalled as exc:
            with self._lock:
                self._stalled = True
            self._set_error(str(exc))
        except (serial.SerialException, OSError) as exc:
            self._set_error(f"{self.url}: {exc}")
        except Exception as exc:  # never let the thread die; report and reconnect
            log.exception("%s: unexpected error", self.name)
            self._set_error(f"{self.url}: unexpected {type(exc).__name__}: {exc}")
        finally:
            try:
                port.close()
            except Exception as exc:
                log.debug("%s: close failed: %s", self.name, exc)
            with self._lock:
                self._connected = False
                fixes = self._mark(self._decoder.reset())
            self._deliver(fixes)
        return got_data

    def _mark(self, fixes: list[Position]) -> list[Position]:
        """Quality-mark fixes (caller holds the lock: the checker's counters are read
        by ``health``)."""
        if self._quality is None:
            return fixes
        return [self._quality.mark(fix) for fix in fixes]

    def _deliver(self, fixes: list[Position]) -> None:
        emit = self._emit
        if emit is None:
            return
        for fix in fixes:
            try:
                emit(fix)
            except Exception as exc:
                with self._lock:
                    self._emit_errors += 1
                self._set_error(f"emit failed: {type(exc).__name__}: {exc}")

    def _set_error(self, message: str) -> None:
        log.warning("%s: %s", self.name, message)
        with self._lock:
            self._last_error = message
