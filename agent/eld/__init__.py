"""Electronic logging device on the edge (49 CFR 395 Subpart B, Appendix A): automatic
driving detection, duty status and login state that survive restarts, and a small
offline web page for the driver. See docs/eld.md."""

from agent.eld.driving import DrivingState, EldParams, Tick, step
from agent.eld.duty import DutySnapshot, DutyStore
from agent.eld.errors import DutyStoreError, EldConflict, EldError, EldInputError
from agent.eld.recorder import EldRecorder

__all__ = [
    "DrivingState",
    "DutySnapshot",
    "DutyStore",
    "DutyStoreError",
    "EldConflict",
    "EldError",
    "EldInputError",
    "EldParams",
    "EldRecorder",
    "Tick",
    "step",
]
