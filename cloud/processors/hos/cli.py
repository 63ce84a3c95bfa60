"""Command line for the HOS calculator: ``fleetwire-cloud hos evaluate FILE``.

Reads one JSON case (file or ``-`` for stdin), prints the result as JSON on stdout.
Bad input prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from .engine import evaluate
from .model import STATUSES, DutyEvent, HosInputError
from .rules import EXCEPTIONS, RULESETS

EXAMPLE = """\
input JSON:
  {"ruleset": "us_property_70_8", "exceptions": [], "home_terminal_tz": "UTC",
   "evaluate_at": "2026-01-06T20:00:00Z",
   "events": [
     {"start": "2026-01-05T00:00:00Z", "status": "off_duty"},
     {"start": "2026-01-06T06:00:00Z", "status": "on_duty"},
     {"start": "2026-01-06T07:00:00Z", "status": "driving"},
     {"start": "2026-01-06T19:00:00Z", "status": "off_duty",
      "end": "2026-01-06T20:00:00Z"}]}

output JSON (12 h of driving without a break: the 30-minute break rule is broken
after 8 h and the 11-hour limit in the last hour):
  {"violations": [{"rule": "break_30min", "start": "2026-01-06T15:00:00Z",
                   "end": "2026-01-06T19:00:00Z"},
                  {"rule": "driving_11", "start": "2026-01-06T18:00:00Z",
                   "end": "2026-01-06T19:00:00Z"}],
   "remaining": {"drive_s": 0, "window_s": 0, "break_s": 28800, "cycle_s": 205200},
   "time_until_first_limit_s": 0, "calculation_period": {...}}

Each event lasts until the next event's start; the last until its "end" (or
evaluate_at). Statuses: {statuses}.
Rulesets: {rulesets}. Exceptions: {exceptions}.
Remaining clocks are seconds at evaluate_at; a clock that does not apply (break_s for
passenger rulesets or short_haul_150) is omitted. Timestamps are printed in UTC with Z.
Bad input: one line on stderr, exit status 2.

example:
  fleetwire-cloud hos evaluate case.json
  cat case.json | fleetwire-cloud hos evaluate -
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetwire-cloud hos evaluate",
        description=(
            "Evaluate a driver's duty-status events against US hours-of-service rules "
            "(49 CFR 395): list violations and the remaining drive, window, break and "
            "cycle clocks in seconds."
        ),
        epilog=EXAMPLE.replace("{statuses}", ", ".join(STATUSES))
        .replace("{rulesets}", ", ".join(sorted(RULESETS)))
        .replace("{exceptions}", ", ".join(sorted(EXCEPTIONS))),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="JSON case file, or - for stdin")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        text = _read(args.file)
        case = parse_case(text)
        result = evaluate(**case)
    except HosInputError as exc:
        print(f"hos evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=2))
    return 0


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise HosInputError(f"cannot read {path}: {exc}") from exc


def parse_case(text: str) -> dict[str, Any]:
    """Keyword arguments for :func:`evaluate` from the JSON case text."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HosInputError(f"input is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise HosInputError("input must be a JSON object")
    for key in ("ruleset", "evaluate_at", "events"):
        if key not in doc:
            raise HosInputError(f"missing required key {key!r}")
    exceptions = doc.get("exceptions", [])
    if not isinstance(exceptions, list):
        raise HosInputError("'exceptions' must be a list of names")
    tz = doc.get("home_terminal_tz", "UTC")
    raw_events = doc["events"]
    if not isinstance(raw_events, list):
        raise HosInputError("'events' must be a list")
    events = []
    for i, item in enumerate(raw_events):
        if not isinstance(item, dict):
            raise HosInputError(f"events[{i}] must be an object")
        if "start" not in item or "status" not in item:
            raise HosInputError(f"events[{i}] needs 'start' and 'status'")
        end = item.get("end")
        events.append(
            DutyEvent(
                start=_time(item["start"], f"events[{i}].start"),
                status=item["status"],
                end=None if end is None else _time(end, f"events[{i}].end"),
            )
        )
    return {
        "events": events,
        "ruleset": doc["ruleset"],
        "exceptions": exceptions,
        "home_terminal_tz": tz,
        "now": _time(doc["evaluate_at"], "evaluate_at"),
    }


def _time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise HosInputError(f"{what} must be an ISO 8601 string, got {value!r}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise HosInputError(f"{what} is not ISO 8601: {value!r}") from exc
    if t.tzinfo is None:
        raise HosInputError(f"{what} is a naive timestamp ({value}); add Z or a UTC offset")
    return t


if __name__ == "__main__":
    sys.exit(main())
