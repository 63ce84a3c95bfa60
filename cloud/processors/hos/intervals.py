"""Small helpers on [start, end) intervals of epoch seconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .model import NOMINAL_MAX_S, OOS_MIN_S

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals; touching ones join (they lie in one continuous driving run)."""
    out: list[Interval] = []
    for s, e in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def severity_key(intervals: Sequence[Interval]) -> tuple[int, int, int, int]:
    """Ranking of a violation set, smaller is better (FAQ-2020 Q4).

    Fewest violations first; among equal counts fewer out-of-service (> 3 h) ones,
    then fewer ordinary ones (i.e. prefer nominal < 15 min), then less time in violation.
    """
    lengths = [e - s for s, e in intervals]
    oos = sum(1 for n in lengths if n > OOS_MIN_S)
    regular = sum(1 for n in lengths if NOMINAL_MAX_S <= n <= OOS_MIN_S)
    return (len(lengths), oos, regular, sum(lengths))
