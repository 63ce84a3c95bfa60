"""``fleetwire-agent replay-can``: run a recorded CAN log through the decoder and detectors.

Reads any log python-can understands (candump ``-l`` .log, Vector .asc, .blf, …),
decodes J1939 / OBD-II (and DBC files given with ``--dbc``), runs the detector chain and
prints JSON lines on stdout: one per signal *change* and one per event. Nothing is sent on
any bus. Frames the agent does not understand are counted; the summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import can

from agent.decode.can_decoder import CanDecoder
from agent.detectors import DetectorChain, DetectorParams
from agent.errors import ConfigError
from agent.model import Event, Signal

EXAMPLE = """example:
  fleetwire-agent replay-can truck.log --dbc j1939.dbc | jq 'select(.kind=="event")'
  python -m agent.replay_can car.asc --param idle_min_s=120

each output line: {"time": "2021-10-25T19:00:55.029Z", "kind": "signal"|"event",
  "name": ..., "value": ..., "unit": ..., "source": "j1939:sa=0x00"|"obd:7E8"|"detector"}"""


def iso_utc(time_ms: int) -> str:
    """UTC ms -> '2021-10-25T19:00:55.029Z'."""
    dt = datetime.fromtimestamp(time_ms / 1000, UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleetwire-agent replay-can",
        description=(
            "Decode a recorded CAN log (J1939, OBD-II, optional DBC) offline and print the "
            "vehicle signals that change and the events the detectors find, as JSON lines. "
            "Read-only: nothing is transmitted."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="CAN log: candump -l .log, Vector .asc, .blf, … (python-can)")
    p.add_argument(
        "--dbc",
        action="append",
        default=[],
        metavar="FILE",
        help="J1939 DBC file to decode extra PGNs with (repeatable; matched by PGN)",
    )
    p.add_argument("--no-obd", action="store_true", help="do not decode OBD-II responses")
    p.add_argument("--no-j1939", action="store_true", help="do not decode J1939 traffic")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector parameter, e.g. idle_min_s=120 or overspeed_kmh=80 (repeatable)",
    )
    return p


def _params(pairs: list[str]) -> DetectorParams:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            raise ConfigError(f"--param {key}: {raw!r} is not a number") from None
    return DetectorParams.from_dict(values)


def _event_line(ev: Event) -> dict[str, Any]:
    return {
        "time": iso_utc(ev.time_ms),
        "kind": "event",
        "name": ev.name,
        "value": ev.attrs,
        "unit": "",
        "source": "detector",
        "lane": ev.lane,
    }


# One candump -l line: (timestamp) channel ID#DATA [T|R], classic, remote or FD.
_CANDUMP_LINE = re.compile(
    r"\(\d+(?:\.\d+)?\)\s+\S+\s+[0-9A-Fa-f]{1,8}#"
    r"(?:#[0-9A-Fa-f](?:[0-9A-Fa-f]{2})*|[Rr]\d*|(?:[0-9A-Fa-f]{2})*)(?:\s+[RrTt])?"
)


class _CheckedLines:
    """A candump text file whose malformed lines are counted and skipped, because
    python-can's reader stops at the first line it cannot parse."""

    def __init__(self, path: str, counts: Counter[str]) -> None:
        self._file = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
        self._counts = counts

    def __iter__(self) -> Iterator[str]:
        match = _CANDUMP_LINE.fullmatch
        for line in self._file:
            text = line.strip()
            if not text:
                continue
            if match(text) is None:
                self._counts["unreadable log line"] += 1
                continue
            yield text

    def close(self) -> None:
        self._file.close()


def _messages(path: str, counts: Counter[str]) -> Iterator[can.Message]:
    if path.lower().endswith(".log"):
        reader: Iterable[can.Message] = can.CanutilsLogReader(_CheckedLines(path, counts))
    else:
        reader = can.LogReader(path)
    it = iter(reader)
    while True:
        try:
            msg = next(it)
        except StopIteration:
            return
        except (ValueError, IndexError, KeyError) as exc:
            # Binary/ASC readers stop at a record they cannot parse; say where.
            counts["log read stopped"] += 1
            print(
                f"replay-can: log reading stopped after {counts['frames']} frames: {exc}",
                file=sys.stderr,
            )
            return
        yield msg


def replay(
    path: str,
    decoder: CanDecoder,
    chain: DetectorChain,
    out: TextIO,
) -> Counter[str]:
    """Run one log through decoder and chain, writing JSON lines to ``out``; returns counts."""
    counts: Counter[str] = Counter()
    last: dict[tuple[str, str], Any] = {}
    dumps = json.dumps
    write = out.write
    # On a terminal, long logs show how far they got (stdout stays pure JSON lines).
    progress = sys.stderr.isatty()
    for msg in _messages(path, counts):
        counts["frames"] += 1
        if progress and counts["frames"] % 50_000 == 0:
            print(f"\rreplay-can: {counts['frames']:,} frames...", end="", file=sys.stderr)
        for sig in decoder.feed(msg):
            counts["signals"] += 1
            key = (sig.name, sig.source)
            if key not in last or last[key] != sig.value:
                last[key] = sig.value
                counts["signal changes"] += 1
                write(dumps(_signal_line(sig), ensure_ascii=False) + "\n")
            for ev in chain.feed(sig):
                counts["events"] += 1
                write(dumps(_event_line(ev), ensure_ascii=False) + "\n")
    decoder.flush()
    if progress and counts["frames"] >= 50_000:
        print(file=sys.stderr)
    return counts


def _signal_line(sig: Signal) -> dict[str, Any]:
    return {
        "time": iso_utc(sig.time_ms),
        "kind": "signal",
        "name": sig.name,
        "value": sig.value,
        "unit": sig.unit,
        "source": sig.source,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        params = _params(args.param)
        decoder = CanDecoder(args.dbc, obd=not args.no_obd, j1939=not args.no_j1939)
    except ConfigError as exc:
        print(f"replay-can: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"replay-can: cannot read DBC: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # cantools parse errors have no common base class
        print(f"replay-can: bad DBC file: {exc}", file=sys.stderr)
        return 2
    try:
        counts = replay(args.file, decoder, DetectorChain(params), sys.stdout)
    except BrokenPipeError:
        # the reader went away (`| head`): not an error; keep Python from complaining
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"replay-can: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # LogReader: unknown file suffix
        print(f"replay-can: {exc}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(decoder.skipped.items()))
    print(f"replay-can: {summary}", file=sys.stderr)
    print(f"replay-can: skipped: {skipped or 'nothing'}", file=sys.stderr)
    return 1 if counts["log read stopped"] else 0


if __name__ == "__main__":
    sys.exit(main())
