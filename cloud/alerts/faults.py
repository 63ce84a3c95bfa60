"""Fault episodes from the agent's ``dtc_new`` / ``dtc_cleared`` events (pure).

A fault's identity is its J1939 (source address, SPN, FMI) or its OBD-II (ECU, code); the
occurrence count and the OBD kind are not part of it, so a pending code that becomes
stored is one fault. An episode runs from the first ``dtc_new`` while nothing of that
identity is active to the ``dtc_cleared`` that leaves nothing active. A ``dtc_new`` for an
identity already active (the agent restarted: a new ignition cycle) continues the episode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_EVENTS = ("dtc_new", "dtc_cleared")
_SA = re.compile(r"sa=0x([0-9A-Fa-f]{1,2})")


@dataclass(slots=True)
class FaultEpisode:
    ident: str  # e.g. "j1939:0:980:9" or "obd:obd:7E8:P0301"
    start_ms: int
    end_ms: int | None = None
    first: dict[str, Any] = field(default_factory=dict)  # attributes of the first dtc_new
    latest: dict[str, Any] = field(default_factory=dict)  # attributes of the newest dtc_new
    lamps_seen: list[dict[str, Any]] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)  # OBD kinds seen active
    reports: int = 0  # dtc_new events in the episode (one per ignition cycle or change)
    first_pos: tuple[int, int] = (0, 0)  # (boot_id, seq) of the first dtc_new
    last_report_ms: int = 0  # event time of the newest dtc_new


def identity(attrs: Mapping[str, Any]) -> tuple[str, str] | None:
    """(identity, channel) of a dtc event's attributes, or None when it names no fault."""
    fault = attrs.get("fault")
    if not isinstance(fault, Mapping):
        return None
    source = str(attrs.get("source", ""))
    signal = str(attrs.get("signal", ""))
    spn, fmi = fault.get("spn"), fault.get("fmi")
    if isinstance(spn, int) and isinstance(fmi, int):
        sa = fault.get("sa")
        if not isinstance(sa, int):
            m = _SA.search(source)
            sa = int(m.group(1), 16) if m else -1
        return f"j1939:{sa}:{spn}:{fmi}", signal
    code = fault.get("code")
    if isinstance(code, str) and code:
        kind = fault.get("kind")
        return f"obd:{source}:{code.upper()}", f"{signal}:{kind}"
    return None


def episodes(
    events: Iterable[tuple[int, str, Mapping[str, Any], int, int]],
) -> tuple[list[FaultEpisode], int]:
    """Episodes per identity from ``(time_ms, name, attrs, boot_id, seq)`` in event-time order.

    Returns the episodes (oldest first per identity) and the number of events skipped
    because they name no fault.
    """
    active: dict[str, set[str]] = {}
    current: dict[str, FaultEpisode] = {}
    out: list[FaultEpisode] = []
    skipped = 0
    for time_ms, name, attrs, boot_id, seq in events:
        ident = identity(attrs)
        if ident is None:
            skipped += 1
            continue
        key, channel = ident
        channels = active.setdefault(key, set())
        fault = attrs.get("fault") or {}
        if name == "dtc_new":
            if not channels:
                ep = FaultEpisode(key, time_ms, first=dict(attrs), first_pos=(boot_id, seq))
                current[key] = ep
                out.append(ep)
            ep = current[key]
            channels.add(channel)
            ep.latest = dict(attrs)
            ep.reports += 1
            ep.last_report_ms = time_ms
            if isinstance(attrs.get("lamps"), Mapping):
                ep.lamps_seen.append(dict(attrs["lamps"]))
            if isinstance(fault.get("kind"), str):
                ep.kinds.add(fault["kind"])
        elif name == "dtc_cleared" and channels:
            channels.discard(channel)
            if not channels:
                current.pop(key).end_ms = time_ms
    return out, skipped
