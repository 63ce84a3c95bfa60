"""NMEA 0183 framing on a raw byte stream.

Serial lines from GNSS receivers carry more than tidy NMEA lines: binary protocols
(UBX, RTCM3, CASIC) interleaved with the text, boot banners, ``$$`` prefixes, lost
or doubled CR/LF and sentences cut off by a reset. The framer therefore ignores line
structure: every ``$`` starts a candidate sentence, which ends at ``*HH`` (checksum),
or is abandoned when a new ``$``, a control/binary byte or a line end comes first.

Each abandoned candidate is counted under a reason (``REJECT_*``); bytes outside any
candidate (line ends, binary data, banners) are counted as skipped. ``feed`` may be
called with chunks cut anywhere.
"""

from __future__ import annotations

import re
from collections import Counter

REJECT_BAD_CHECKSUM = "bad_checksum"  # checksum mismatch or malformed ``*HH`` field
REJECT_NO_CHECKSUM = "no_checksum"  # line ended without ``*HH`` (and that is not allowed)
REJECT_TRUNCATED = "truncated"  # cut by a new ``$``, a binary byte or the end of the stream
REJECT_TOO_LONG = "too_long"  # longer than ``max_chars`` before its checksum

# NMEA 0183 allows 82 characters including "$" and CR LF; receivers exceed it a little
# (NMEA 4.x fields, vendor extensions), so the default leaves some room.
NMEA_MAX_CHARS = 82
DEFAULT_MAX_CHARS = 100

# A candidate's body ends at the first byte that is not printable ASCII or is "$"/"*".
_STOP = re.compile(rb"[^\x20-\x23\x25-\x29\x2b-\x7e]")
_HEX = frozenset(b"0123456789ABCDEFabcdef")
_LINE_END = frozenset(b"\r\n")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def nmea_checksum(body: bytes) -> int:
    """XOR of all bytes between ``$`` and ``*`` (the NMEA 0183 checksum)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _has_talker(buf: bytearray, body_start: int, stop: int) -> bool:
    """Whether a candidate starts like a sentence address (two capital letters)."""
    return stop - body_start >= 2 and buf[body_start] in _UPPER and buf[body_start + 1] in _UPPER


class NmeaFramer:
    """Cut a byte stream into checksum-verified NMEA sentence bodies.

    ``feed(chunk)`` returns the bodies completed by that chunk, without ``$`` and
    ``*HH`` (e.g. ``"GPRMC,123519,A,..."``). ``finish()`` ends the stream and counts a
    pending partial sentence as truncated. Counters: ``sentences`` (accepted),
    ``rejects`` (by reason), ``skipped_bytes`` (line ends, binary data, banners).
    """

    def __init__(
        self, *, allow_missing_checksum: bool = False, max_chars: int = DEFAULT_MAX_CHARS
    ) -> None:
        if max_chars < 8:
            raise ValueError(f"max_chars must be at least 8, got {max_chars}")
        self.allow_missing_checksum = allow_missing_checksum
        # Longest body (between "$" and "*") still accepted: max_chars minus "$*HH\r\n".
        self._max_body = max_chars - 6
        self._buf = bytearray()
        self.sentences = 0
        self.skipped_bytes = 0
        self.rejects: Counter[str] = Counter()

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the sentence bodies they complete, in stream order."""
        if not chunk:
            return []
        buf = self._buf
        buf += chunk
        out: list[str] = []
        n = len(buf)
        pos = 0
        max_body = self._max_body
        while True:
            start = buf.find(b"$", pos)
            if start < 0:
                self.skipped_bytes += n - pos
                pos = n
                break
            self.skipped_bytes += start - pos
            body_start = start + 1
            m = _STOP.search(buf, body_start)
            if m is None:
                if n - body_start > max_body:
                    self.rejects[REJECT_TOO_LONG] += 1
                    self.skipped_bytes += n - body_start
                    pos = n
                else:
                    pos = start  # wait for more bytes
                break
            stop = m.start()
            if stop - body_start > max_body:
                self.rejects[REJECT_TOO_LONG] += 1
                self.skipped_bytes += stop - body_start
                pos = stop
                continue
            c = buf[stop]
            if c == 0x2A:  # "*"
                if n < stop + 3:
                    # Wait for the two hex digits unless what came already cannot be one.
                    if n == stop + 2 and buf[stop + 1] not in _HEX:
                        self.rejects[REJECT_BAD_CHECKSUM] += 1
                        pos = stop + 1
                        continue
                    pos = start
                    break
                h1, h2 = buf[stop + 1], buf[stop + 2]
                if h1 in _HEX and h2 in _HEX:
                    body = bytes(buf[body_start:stop])
                    if nmea_checksum(body) == int(bytes((h1, h2)), 16):
                        self.sentences += 1
                        out.append(body.decode("ascii"))
                    else:
                        self.rejects[REJECT_BAD_CHECKSUM] += 1
                    pos = stop + 3
                else:
                    self.rejects[REJECT_BAD_CHECKSUM] += 1
                    pos = stop + 1
            elif not _has_talker(buf, body_start, stop):
                # "$$" prefixes, or a 0x24 byte inside binary data followed by a few
                # printable bytes: noise, not a damaged sentence.
                self.skipped_bytes += stop - start
                pos = stop
            elif c in _LINE_END:
                if self.allow_missing_checksum:
                    self.sentences += 1
                    out.append(bytes(buf[body_start:stop]).decode("ascii"))
                else:
                    self.rejects[REJECT_NO_CHECKSUM] += 1
                pos = stop
            else:  # "$" (resynchronise there) or a binary byte
                self.rejects[REJECT_TRUNCATED] += 1
                pos = stop
        del buf[:pos]
        return out

    def finish(self) -> None:
        """End of stream (or device closed): a pending partial sentence is truncated."""
        buf = self._buf
        if buf:
            if buf[0] == 0x24 and _has_talker(buf, 1, len(buf)):
                self.rejects[REJECT_TRUNCATED] += 1
            else:
                self.skipped_bytes += len(buf)
            buf.clear()

    @property
    def pending_bytes(self) -> int:
        """Bytes held back because they may still become a sentence."""
        return len(self._buf)
