"""Route adherence: planned routes and stops against what the vehicle did (pure, no database).

``parse_plan`` validates a route plan, ``follow`` replays the route's fixes into events,
per-stop outcomes, an explainable report with a score, and ETAs; ``desired_alerts`` says
which alerts the result should have open or resolved.
"""

from cloud.adherence.engine import (
    SCORE_FORMULA,
    AdherenceEvent,
    AdherenceResult,
    Eta,
    Fix,
    StopOutcome,
    follow,
)
from cloud.adherence.notify import AlertSpec, desired_alerts
from cloud.adherence.plan import Plan, PlanError, Stop, parse_plan

__all__ = [
    "SCORE_FORMULA",
    "AdherenceEvent",
    "AdherenceResult",
    "AlertSpec",
    "Eta",
    "Fix",
    "Plan",
    "PlanError",
    "Stop",
    "StopOutcome",
    "desired_alerts",
    "follow",
    "parse_plan",
]
