"""Hours-of-service calculator (49 CFR 395): pure functions, standard library only.

Call :func:`evaluate` for violations and remaining clocks, :func:`daily_log` for one
day's graph-grid segments; ``python -m cloud.processors.hos.cli FILE`` for the CLI.
"""

from .daily_log import daily_log
from .engine import evaluate
from .model import (
    STATUSES,
    CalculationPeriod,
    DutyEvent,
    HosInputError,
    HosResult,
    Remaining,
    SplitPair,
    Violation,
)
from .rules import EXCEPTIONS, RULESETS

__all__ = [
    "EXCEPTIONS",
    "RULESETS",
    "STATUSES",
    "CalculationPeriod",
    "DutyEvent",
    "HosInputError",
    "HosResult",
    "Remaining",
    "SplitPair",
    "Violation",
    "daily_log",
    "evaluate",
]
