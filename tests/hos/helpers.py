"""Compact builders for HOS scenarios: a shift is written as "D 5", "SB 7:30", "OFF 10"."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cloud.processors.hos import DutyEvent, HosResult, evaluate

# Monday 2026-01-05 00:00Z; every scenario starts after 48 h off (a reset and a restart).
BASE = datetime(2026, 1, 5, tzinfo=UTC)
STATUS = {
    "OFF": "off_duty",
    "SB": "sleeper_berth",
    "D": "driving",
    "ON": "on_duty",
    "PC": "personal_conveyance",
    "YM": "yard_move",
}


def dur(text: str) -> timedelta:
    """'7' -> 7 h, '7:30' -> 7 h 30 min, '0:00:30' -> 30 s."""
    parts = [int(p) for p in text.split(":")]
    parts += [0] * (3 - len(parts))
    return timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])


def T(h: int = 0, m: int = 0, d: int = 0, base: datetime = BASE) -> datetime:
    """An instant ``d`` days, ``h`` hours and ``m`` minutes after ``base``."""
    return base + timedelta(days=d, hours=h, minutes=m)


def build(
    pieces: Sequence[str], start: datetime = BASE, history: bool = True
) -> tuple[list[DutyEvent], datetime]:
    """Events for consecutive pieces from ``start`` (after 48 h off) and the end instant."""
    events = [DutyEvent(start - timedelta(hours=48), "off_duty")] if history else []
    t = start
    for piece in pieces:
        code, length = piece.split()
        events.append(DutyEvent(t, STATUS[code]))
        t += dur(length)
    events[-1] = replace(events[-1], end=t)
    return events, t


def run(
    pieces: Sequence[str],
    ruleset: str = "us_property_70_8",
    exceptions: Collection[str] = (),
    tz: str = "UTC",
    start: datetime = BASE,
) -> HosResult:
    """Evaluate the pieces at the end of the last one."""
    events, end = build(pieces, start)
    return evaluate(events, ruleset, exceptions, tz, end)


def viol(result: HosResult) -> set[tuple[str, datetime, datetime]]:
    return {(v.rule, v.start, v.end) for v in result.violations}


def rules(result: HosResult) -> set[str]:
    return {v.rule for v in result.violations}


H = 3600
