"""60-hour/7-day and 70-hour/8-day limits by carrier day in the home-terminal time zone,
with the 34-hour restart (property only), 395.3(b)-(c) and 395.5(b).

Days are the home terminal's calendar days (24-hour period starting at local midnight),
so a day is 23 or 25 hours long across a DST change.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .intervals import Interval
from .rules import Limits
from .timeline import RestRun, Segment


class DayClock:
    """Maps epoch seconds to home-terminal day ordinals and local midnights."""

    def __init__(self, zone: ZoneInfo, first: int, last: int) -> None:
        self.zone = zone
        day = self.local_date(first) - timedelta(days=1)
        end = self.local_date(last) + timedelta(days=2)
        self.ordinals: list[int] = []
        self.midnights: list[int] = []
        while day <= end:
            self.ordinals.append(day.toordinal())
            self.midnights.append(self.midnight(day))
            day += timedelta(days=1)

    def local_date(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.zone).date()

    def midnight(self, day: date) -> int:
        return int(datetime.combine(day, time(0), self.zone).timestamp())

    def day_of(self, t: int) -> tuple[int, int]:
        """(day ordinal, epoch s of the next midnight) for instant ``t``."""
        i = bisect.bisect_right(self.midnights, t) - 1
        return self.ordinals[i], self.midnights[i + 1]


def cycle_rule(
    segs: Sequence[Segment], runs: Sequence[RestRun], limits: Limits, zone: ZoneInfo, now: int
) -> tuple[list[Interval], int, int | None]:
    """Cycle violations, ``cycle_s`` at ``now`` and the end of the last restart (or None)."""
    if not segs:
        return [], limits.cycle_s, None
    clock = DayClock(zone, segs[0].start, now)
    restarts = sorted(
        r.end for r in runs if limits.restart_s is not None and r.length >= limits.restart_s
    )
    per_day: dict[int, int] = {}  # on-duty seconds per day after the last restart
    found: list[Interval] = []
    restart_end: int | None = None
    ri = 0

    def used(day: int) -> int:
        return sum(per_day.get(day - k, 0) for k in range(limits.cycle_days))

    for seg in segs:
        # restarts end where on-duty time begins, so clearing per segment is exact
        while ri < len(restarts) and restarts[ri] <= seg.start:
            per_day.clear()
            restart_end = restarts[ri]
            ri += 1
        if seg.kind not in ("D", "ON"):
            continue
        t = seg.start
        while t < seg.end:
            day, next_midnight = clock.day_of(t)
            stop = min(seg.end, next_midnight)
            if seg.kind == "D":
                before = used(day)
                if before + (stop - t) > limits.cycle_s:
                    found.append((t + max(0, limits.cycle_s - before), stop))
            per_day[day] = per_day.get(day, 0) + stop - t
            t = stop
    while ri < len(restarts) and restarts[ri] <= now:
        per_day.clear()
        restart_end = restarts[ri]
        ri += 1
    day_now, _ = clock.day_of(now)
    return found, max(0, limits.cycle_s - used(day_now)), restart_end
