"""Input validation and the gap-free timeline of duty segments the rules are checked on.

Internally every instant is an integer number of UTC epoch seconds (ELD records keep
whole seconds); sub-second parts of input timestamps are truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .model import STATUSES, DutyEvent, HosInputError, from_epoch, iso_z

# Engine kinds: personal conveyance is off-duty time, a yard move is on-duty not driving.
KIND = {
    "off_duty": "OFF",
    "personal_conveyance": "OFF",
    "sleeper_berth": "SB",
    "driving": "D",
    "on_duty": "ON",
    "yard_move": "ON",
}
REST_KINDS = frozenset({"OFF", "SB"})
# Plausible ELD-era instants only: keeps day arithmetic and history padding in range.
MIN_EPOCH_S = 315_532_800  # 1980-01-01T00:00:00Z
MAX_EPOCH_S = 7_258_118_400  # 2200-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class Segment:
    """[start, end) in epoch seconds with an engine kind (OFF, SB, D, ON)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class RestRun:
    """A maximal run of consecutive off-duty/sleeper time, epoch seconds.

    ``max_sb_s`` is the longest consecutive sleeper-berth stretch inside it.
    """

    start: int
    end: int
    max_sb_s: int

    @property
    def length(self) -> int:
        return self.end - self.start


def load_zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name; HosInputError when it is unknown."""
    if not isinstance(name, str) or not name:
        raise HosInputError(f"home-terminal time zone must be an IANA name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HosInputError(f"unknown home-terminal time zone {name!r}") from exc


def epoch_s(t: object, what: str) -> int:
    """Whole epoch seconds of an aware datetime; HosInputError for anything else."""
    if not isinstance(t, datetime):
        raise HosInputError(f"{what} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise HosInputError(f"{what} is a naive timestamp ({t.isoformat()}); give a UTC offset")
    s = int(t.timestamp() // 1)
    if not MIN_EPOCH_S <= s <= MAX_EPOCH_S:
        raise HosInputError(f"{what} ({t.isoformat()}) is outside the years 1980-2199")
    return s


def build_intervals(
    events: Sequence[DutyEvent],
    *,
    open_end_s: int | None,
    horizon_s: int | None,
    require_cover: bool,
) -> list[tuple[int, int, str]]:
    """Validated, time-ordered (start, end, raw status) intervals.

    Each event lasts until the next event's start; the last until its ``end`` or, when
    it has none, ``open_end_s``. Intervals are clipped at ``horizon_s`` (events starting
    at or after it are outside the evaluation). With ``require_cover`` the last event must
    reach the horizon. Input order does not matter.
    """
    checked: list[tuple[int, int | None, str, int]] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, DutyEvent):
            raise HosInputError(f"event {i} is not a DutyEvent (got {type(ev).__name__})")
        if ev.status not in STATUSES:
            raise HosInputError(
                f"event {i} has unknown status {ev.status!r}; expected one of {', '.join(STATUSES)}"
            )
        start = epoch_s(ev.start, f"event {i} start")
        end = None if ev.end is None else epoch_s(ev.end, f"event {i} end")
        if end is not None and end < start:
            raise HosInputError(
                f"event {i} ({ev.status}) ends at {_iso(end)} before it starts at {_iso(start)}"
            )
        checked.append((start, end, ev.status, i))
    checked.sort(key=lambda c: c[0])
    out: list[tuple[int, int, str]] = []
    for n, (start, end, status, i) in enumerate(checked):
        if n + 1 < len(checked):
            nxt_start, _, nxt_status, j = checked[n + 1]
            if nxt_start == start:
                raise HosInputError(
                    f"overlapping events: event {i} ({status}) and event {j} ({nxt_status}) "
                    f"both start at {_iso(start)}"
                )
            if end is not None and end > nxt_start:
                raise HosInputError(
                    f"overlapping events: event {i} ({status}) ends at {_iso(end)} after event "
                    f"{j} ({nxt_status}) starts at {_iso(nxt_start)}"
                )
            if end is not None and end < nxt_start:
                raise HosInputError(
                    f"gap in events: event {i} ({status}) ends at {_iso(end)} but the next "
                    f"event starts at {_iso(nxt_start)}; log the status for the gap"
                )
            stop = nxt_start
        else:
            if end is None:
                if open_end_s is None:
                    raise HosInputError(f"the last event (event {i}) needs an end")
                end = max(open_end_s, start)
            if require_cover and horizon_s is not None and end < horizon_s:
                raise HosInputError(
                    f"the last event (event {i}, {status}) ends at {_iso(end)}, before the "
                    f"evaluation time {_iso(horizon_s)}; the time in between is unknown"
                )
            stop = end
        if horizon_s is not None:
            if start >= horizon_s:
                break
            stop = min(stop, horizon_s)
        if stop > start:
            out.append((start, stop, status))
    return out


def _iso(t: int) -> str:
    return iso_z(from_epoch(t))


def to_segments(intervals: Sequence[tuple[int, int, str]], history_s: int) -> list[Segment]:
    """Engine segments: statuses mapped to kinds, equal neighbours merged.

    A virtual off-duty segment of ``history_s`` precedes the first event: the digest's
    §11 says every case starts with at least 34 h off and no earlier on-duty time.
    """
    segs: list[Segment] = []
    if not intervals:
        return segs
    first = intervals[0][0]
    pieces = [(first - history_s, first, "OFF")]
    pieces += [(s, e, KIND[st]) for s, e, st in intervals]
    for s, e, kind in pieces:
        if segs and segs[-1].kind == kind and segs[-1].end == s:
            segs[-1] = Segment(segs[-1].start, e, kind)
        else:
            segs.append(Segment(s, e, kind))
    return segs


def rest_runs(segs: Sequence[Segment]) -> list[RestRun]:
    """Maximal runs of consecutive OFF/SB segments, in time order."""
    runs: list[RestRun] = []
    cur_start: int | None = None
    cur_end = 0
    max_sb = 0
    for seg in segs:
        if seg.kind in REST_KINDS:
            if cur_start is None:
                cur_start, max_sb = seg.start, 0
            cur_end = seg.end
            if seg.kind == "SB":
                # equal kinds are merged, so one SB segment is one consecutive stretch
                max_sb = max(max_sb, seg.end - seg.start)
        elif cur_start is not None:
            runs.append(RestRun(cur_start, cur_end, max_sb))
            cur_start = None
    if cur_start is not None:
        runs.append(RestRun(cur_start, cur_end, max_sb))
    return runs
