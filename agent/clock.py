"""Event time for CAN values: the system clock corrected by GNSS.

A gateway without an RTC may boot with a wrong clock; GNSS time is the reference.
Each trusted fix gives the offset between GNSS UTC and the system clock, and CAN
values (timestamped by the system clock when the frame arrived) are shifted by it.
"""

from __future__ import annotations

import time
from typing import Any


class GnssClock:
    def __init__(self, max_fix_age_s: float = 30.0) -> None:
        self.offset_ms = 0  # GNSS UTC minus system clock
        self.synced = False
        self.last_fix_wall_ms: int | None = None
        self.max_fix_age_s = max_fix_age_s

    def observe_fix(self, gnss_time_ms: int | None, valid: bool, flags: list[str]) -> None:
        """Learn the offset from a fix whose time the GNSS decoder trusts."""
        if gnss_time_ms is None or not valid or "bad_time" in flags:
            return
        wall = int(time.time() * 1000)
        self.offset_ms = gnss_time_ms - wall
        self.synced = True
        self.last_fix_wall_ms = wall

    def event_time_ms(self, wall_ms: int) -> int:
        """Event time for something the system clock stamped at ``wall_ms``."""
        return wall_ms + self.offset_ms

    def health(self) -> dict[str, Any]:
        return {"gnss_synced": self.synced, "clock_offset_ms": self.offset_ms}
