"""Rulesets and exceptions of 49 CFR 395.3 / 395.5 / 395.1 turned into numeric limits (seconds)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .model import HosInputError

H = 3600

RULESETS: dict[str, tuple[bool, int, int]] = {
    # name: (passenger, cycle hours, cycle days)
    "us_property_70_8": (False, 70, 8),
    "us_property_60_7": (False, 60, 7),
    "us_passenger_70_8": (True, 70, 8),
    "us_passenger_60_7": (True, 60, 7),
}
EXCEPTIONS = frozenset({"adverse_driving", "short_haul_150", "big_day_16"})


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit the engine checks, in seconds.

    ``window_s`` is the wall-clock driving window for property carriers and the
    cumulative on-duty limit for passenger carriers.
    """

    ruleset: str
    passenger: bool
    reset_s: int  # consecutive off/sleeper time that restarts drive and window clocks
    drive_s: int
    window_s: int
    break_after_s: int | None  # None: the 30-minute break rule does not apply
    break_len_s: int
    cycle_s: int
    cycle_days: int
    restart_s: int | None  # None: no 34-hour restart (passenger)
    split_min_s: int  # shortest rest that can be one half of a split
    split_long_sb_s: int  # property: one half needs this much consecutive sleeper time
    split_total_s: int
    drive_rule: str
    window_rule: str
    cycle_rule: str


def resolve_limits(ruleset: str, exceptions: Collection[str]) -> Limits:
    """Limits for ``ruleset`` with ``exceptions`` applied; HosInputError for unknown names."""
    if not isinstance(ruleset, str) or ruleset not in RULESETS:
        raise HosInputError(
            f"unknown ruleset {ruleset!r}; expected one of {', '.join(sorted(RULESETS))}"
        )
    if isinstance(exceptions, str):
        raise HosInputError("exceptions must be a collection of names, not a single string")
    exc = set()
    for name in exceptions:
        if not isinstance(name, str) or name not in EXCEPTIONS:
            raise HosInputError(
                f"unknown exception {name!r}; expected any of {', '.join(sorted(EXCEPTIONS))}"
            )
        exc.add(name)
    passenger, cycle_h, cycle_days = RULESETS[ruleset]
    adverse = 2 * H if "adverse_driving" in exc else 0
    cycle_rule = f"cycle_{cycle_h}_{cycle_days}"
    if passenger:
        if "big_day_16" in exc:
            raise HosInputError("exception big_day_16 (395.1(o)) applies to property carriers only")
        return Limits(
            ruleset=ruleset,
            passenger=True,
            reset_s=8 * H,
            drive_s=10 * H + adverse,
            window_s=15 * H + adverse,
            break_after_s=None,
            break_len_s=30 * 60,
            cycle_s=cycle_h * H,
            cycle_days=cycle_days,
            restart_s=None,
            split_min_s=2 * H,
            split_long_sb_s=0,
            split_total_s=8 * H,
            drive_rule="driving_10",
            window_rule="on_duty_15",
            cycle_rule=cycle_rule,
        )
    window = 14 * H
    if adverse or "big_day_16" in exc:
        window = 16 * H  # the digest's §11: 16 h with either, they do not add up
    return Limits(
        ruleset=ruleset,
        passenger=False,
        reset_s=10 * H,
        drive_s=11 * H + adverse,
        window_s=window,
        break_after_s=None if "short_haul_150" in exc else 8 * H,
        break_len_s=30 * 60,
        cycle_s=cycle_h * H,
        cycle_days=cycle_days,
        restart_s=34 * H,
        split_min_s=2 * H,
        split_long_sb_s=7 * H,
        split_total_s=10 * H,
        drive_rule="driving_11",
        window_rule="window_14",
        cycle_rule=cycle_rule,
    )
