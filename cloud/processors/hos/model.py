"""Public data types of the HOS calculator: input events, results and the input error.

All instants in results are timezone-aware UTC datetimes with whole seconds; every
duration is an integer number of seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Duty statuses accepted in input (ELD event type 1 codes 1-4 plus the type 3 indications).
STATUSES = (
    "off_duty",
    "sleeper_berth",
    "driving",
    "on_duty",
    "personal_conveyance",
    "yard_move",
)

NOMINAL_MAX_S = 15 * 60  # FAQ-2020 Q4: "nominal" = less than 15 minutes in violation
OOS_MIN_S = 3 * 3600  # FAQ-2020 Q4: "out of service" = more than 3 hours in violation


class HosInputError(ValueError):
    """The events, ruleset, exceptions, time zone or evaluation time are not usable."""


@dataclass(frozen=True, slots=True)
class DutyEvent:
    """One duty-status change: ``status`` from ``start`` until the next event's start.

    ``end`` is only needed on the last event (it defaults to the evaluation time);
    on any other event it must equal the next event's start.
    """

    start: datetime
    status: str
    end: datetime | None = None


def iso_z(t: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, whole seconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch(t: int) -> datetime:
    """UTC datetime for integer epoch seconds."""
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True, slots=True)
class Violation:
    """One maximal continuous interval of driving that breaches ``rule``."""

    rule: str
    start: datetime
    end: datetime

    @property
    def duration_s(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def severity(self) -> str:
        """FAQ-2020 Q4 class: ``nominal`` (< 15 min), ``violation``, ``oos`` (> 3 h)."""
        if self.duration_s < NOMINAL_MAX_S:
            return "nominal"
        if self.duration_s > OOS_MIN_S:
            return "oos"
        return "violation"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "start": iso_z(self.start), "end": iso_z(self.end)}


@dataclass(frozen=True, slots=True)
class Remaining:
    """Remaining clocks at the evaluation time, seconds, clamped at 0.

    ``break_s`` is None when the 30-minute break rule does not apply (passenger
    rulesets, ``short_haul_150``).
    """

    drive_s: int
    window_s: int
    break_s: int | None
    cycle_s: int

    def to_json(self) -> dict[str, int]:
        out = {"drive_s": self.drive_s, "window_s": self.window_s}
        if self.break_s is not None:
            out["break_s"] = self.break_s
        out["cycle_s"] = self.cycle_s
        return out


@dataclass(frozen=True, slots=True)
class SplitPair:
    """A split-sleeper pair used in the current shift: the first and second rest periods."""

    first_start: datetime
    first_end: datetime
    second_start: datetime
    second_end: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "first": {"start": iso_z(self.first_start), "end": iso_z(self.first_end)},
            "second": {"start": iso_z(self.second_start), "end": iso_z(self.second_end)},
        }


@dataclass(frozen=True, slots=True)
class CalculationPeriod:
    """The calculation period the drive and window clocks are measured in.

    ``start`` is the first on-duty instant after the last full rest, or the end of the
    first rest period of the last completed split pair; None when the driver has not
    come on duty since the last full rest. ``split_pairs`` are the pairs chosen in the
    current shift. ``cycle_start`` is the end of the last 34-hour restart (None when
    no restart applies, e.g. passenger rulesets).
    """

    start: datetime | None
    end: datetime
    split_pairs: tuple[SplitPair, ...]
    cycle_start: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso_z(self.start) if self.start is not None else None,
            "end": iso_z(self.end),
            "split_pairs": [p.to_json() for p in self.split_pairs],
            "cycle_start": iso_z(self.cycle_start) if self.cycle_start is not None else None,
        }


@dataclass(frozen=True, slots=True)
class HosResult:
    """Outcome of :func:`cloud.processors.hos.evaluate`."""

    ruleset: str
    exceptions: tuple[str, ...]
    evaluated_at: datetime
    violations: tuple[Violation, ...]
    remaining: Remaining
    time_until_first_limit_s: int
    calculation_period: CalculationPeriod

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": [v.to_json() for v in self.violations],
            "remaining": self.remaining.to_json(),
            "time_until_first_limit_s": self.time_until_first_limit_s,
            "calculation_period": self.calculation_period.to_json(),
            "ruleset": self.ruleset,
            "exceptions": list(self.exceptions),
            "evaluated_at": iso_z(self.evaluated_at),
        }
