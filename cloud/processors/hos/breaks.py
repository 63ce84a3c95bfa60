"""The 30-minute break, 395.3(a)(3)(ii): no driving after more than 8 h of driving
without a consecutive 30-minute interruption (any non-driving status or combination)."""

from __future__ import annotations

from collections.abc import Sequence

from .intervals import Interval
from .rules import Limits
from .timeline import Segment


def break_rule(segs: Sequence[Segment], limits: Limits) -> tuple[list[Interval], int | None]:
    """Break violations and ``break_s`` at the end of the timeline (None: rule not applicable)."""
    if limits.break_after_s is None:
        return [], None
    limit = limits.break_after_s
    found: list[Interval] = []
    driven = 0  # driving since the end of the last qualifying interruption, s
    pause = 0  # length of the current run of non-driving time, s
    for seg in segs:
        if seg.kind != "D":
            pause += seg.end - seg.start
            continue
        if pause >= limits.break_len_s:
            driven = 0
        pause = 0
        length = seg.end - seg.start
        if driven + length > limit:
            found.append((seg.start + max(0, limit - driven), seg.end))
        driven += length
    if segs and pause >= limits.break_len_s:
        return found, limit  # currently in a qualifying break
    return found, max(0, limit - driven)
