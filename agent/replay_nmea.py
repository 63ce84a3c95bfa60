"""``fleetwire-agent replay-nmea``: decode a recorded NMEA capture into fixes.

Feeds a capture file (raw receiver bytes, binary interleaved or not; gpsd test logs
with ``#`` comment lines) through the same framer, epoch assembler, time checks and
quality marking the agent uses, and prints one JSON object per fix on stdout, before
sampling. A one-line summary (sentences, rejects by reason) goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from agent.decode.nmea import NmeaDecoder
from agent.decode.nmea_epoch import ROLLOVER_KEY, ClockParams, iso_utc
from agent.decode.nmea_framer import DEFAULT_MAX_CHARS
from agent.model import Position
from agent.stages.quality import QualityChecker

EXAMPLE = """example:
  fleetwire-agent replay-nmea ublox.log | jq -c 'select(.valid) | [.time, .lat, .lon]'
  fleetwire-agent replay-nmea old-receiver.log --date-floor 2019-01-01

each output line (null = not reported by the receiver):
  {"time": "2020-07-11T22:37:45.000Z", "lat": 38.110494, "lon": -122.626897,
   "alt_m": 83.1, "speed_mps": 0.02, "course_deg": null, "mode": 3, "quality": 2,
   "sats": 12, "hdop": 0.54, "pdop": 0.99, "valid": true, "flags": []}
mode: 0 no fix, 2 = 2D, 3 = 3D; quality: GGA fix quality (0 none, 1 GPS, 2 DGPS, ...);
flags: quality checks that fired (no_fix, few_sats, high_hdop, zero_position, jump,
bad_time = receiver time unusable); "time_corrected_weeks": 1024 appears on fixes whose
date was repaired after a GPS week rollover."""

OUTPUT_KEYS = (
    "lat",
    "lon",
    "alt_m",
    "speed_mps",
    "course_deg",
    "mode",
    "quality",
    "sats",
    "hdop",
    "pdop",
    "valid",
)

# gpsd test logs start lines of metadata with "#"; only whole text lines count, so
# a "#" byte inside interleaved binary data is left alone.
_COMMENT_LINE = re.compile(rb"(?m)^#[\x20-\x7e\t]*\r?(?:\n|\Z)")


def strip_comments(data: bytes) -> bytes:
    """Remove gpsd-style ``#`` comment lines (printable text starting a line)."""
    return _COMMENT_LINE.sub(b"", data)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleetwire-agent replay-nmea",
        description=(
            "Decode a recorded NMEA 0183 capture offline and print one JSON line per fix "
            "(all fixes, before sampling), with quality flags. Sentences are framed on the "
            "byte stream, so binary data (UBX, RTCM3, CASIC) and damaged lines are skipped "
            "and counted; the counts are printed to stderr at the end."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="capture file: raw receiver bytes or a gpsd test log")
    p.add_argument(
        "--allow-missing-checksum",
        action="store_true",
        help="accept sentences that end without '*hh' (old receivers)",
    )
    p.add_argument(
        "--date-floor",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="dates before this are GPS week-rollover errors and get corrected by 1024 weeks "
        "(default: none, so that old captures replay with their own dates)",
    )
    p.add_argument(
        "--assume-date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="UTC date of the first fix, for receivers that never send a date (GGA only)",
    )
    p.add_argument(
        "--max-sentence-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        metavar="N",
        help=f"longer sentences are rejected as too_long (default {DEFAULT_MAX_CHARS}; "
        "NMEA allows 82)",
    )
    return p


def fix_record(fix: Position) -> dict[str, Any]:
    """The JSON object printed for one fix."""
    data = fix.data
    out: dict[str, Any] = {"time": iso_utc(fix.time_ms)}
    for key in OUTPUT_KEYS:
        out[key] = data.get(key)
    for key in ("eph_m", ROLLOVER_KEY):
        if key in data:
            out[key] = data[key]
    out["flags"] = list(data.get("flags") or [])
    return out


def summary(decoder: NmeaDecoder) -> str:
    s = decoder.stats()
    rejects = " ".join(f"{k}={v}" for k, v in s["rejects"].items()) or "none"
    ignored = " ".join(f"{k}={v}" for k, v in s["ignored"].items()) or "none"
    return (
        f"replay-nmea: {s['fixes']} fixes ({s['valid_fixes']} valid) from {s['sentences']} "
        f"sentences; rejected: {rejects}; ignored: {ignored}; "
        f"skipped bytes: {s['skipped_bytes']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as exc:
        print(f"replay-nmea: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.max_sentence_chars < 8:
        print("replay-nmea: --max-sentence-chars must be at least 8", file=sys.stderr)
        return 2
    hint = None
    if args.assume_date is not None:
        noon_ms = int(
            dt.datetime.combine(args.assume_date, dt.time(12), tzinfo=dt.UTC).timestamp() * 1000
        )
        hint = lambda: noon_ms  # noqa: E731
    decoder = NmeaDecoder(
        allow_missing_checksum=args.allow_missing_checksum,
        max_chars=args.max_sentence_chars,
        clock=ClockParams(date_floor=args.date_floor),
        time_hint=hint,
        max_undated=1_000_000,  # a file: fixes may wait for a date as long as needed
    )
    quality = QualityChecker()
    data = strip_comments(data)
    out = sys.stdout
    try:
        step = 65536
        for i in range(0, len(data), step):
            for fix in decoder.feed(data[i : i + step]):
                out.write(json.dumps(fix_record(quality.mark(fix))) + "\n")
        for fix in decoder.finish():
            out.write(json.dumps(fix_record(quality.mark(fix))) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(summary(decoder), file=sys.stderr)
        return 0
    print(summary(decoder), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
