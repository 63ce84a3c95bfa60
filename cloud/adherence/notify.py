"""Which alerts an adherence result implies: one ``AlertSpec`` per alert key, open or resolved.

Kinds: ``route_deviation`` (off route, resolved when back on route), ``route_stop``
(arrived / departed are notices, raised and resolved at once; skipped stays open until the
stop is served after all) and ``eta_late`` (resolved when the stop is reached or skipped).
Keys are stable (``route:{id}:offroute:{start_ms}``, ``route:{id}:stop:{i}:skipped``, ...),
so comparing the specs of two results tells what to raise, resolve or withdraw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cloud.adherence.engine import AdherenceResult


@dataclass(frozen=True, slots=True)
class AlertSpec:
    kind: str
    key: str
    severity: str  # low / medium / high (the alert model's scale)
    title: str
    details: dict[str, Any]
    event_time_ms: int
    resolved_ms: int | None  # None: should be open

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertSpec:
        return cls(**data)


def desired_alerts(route_id: str, route_name: str, result: AdherenceResult) -> dict[str, AlertSpec]:
    """The alerts of ``result`` keyed by alert key (see the module docstring)."""
    label = f"route {route_name or route_id}"
    base = {"route_id": route_id}
    back_on = {e.data["off_since_ms"]: e for e in result.events if e.kind == "back_on_route"}
    outcomes = {o.index: o for o in result.stops}
    out: dict[str, AlertSpec] = {}

    def add(
        kind: str, key: str, sev: str, title: str, t: int, resolved: int | None, **d: Any
    ) -> None:
        out[key] = AlertSpec(kind, key, sev, title, {**base, **d}, t, resolved)

    for e in result.events:
        i = e.stop_index
        if e.kind == "off_route":
            back = back_on.get(e.time_ms)
            add(
                "route_deviation",
                f"route:{route_id}:offroute:{e.time_ms}",
                "medium",
                f"{label}: vehicle left the corridor ({e.data['distance_m']} m from the path)",
                e.time_ms,
                back.time_ms if back else None,
                **e.data,
                back_on_route_ms=back.time_ms if back else None,
            )
        elif e.kind in ("arrived", "departed") and i is not None:
            late = e.kind == "arrived" and (e.data["status"] == "late" or e.data["out_of_sequence"])
            what = "arrived at" if e.kind == "arrived" else "departed from"
            extra = f" ({e.data['status']})" if e.kind == "arrived" else ""
            add(
                "route_stop",
                f"route:{route_id}:stop:{i}:{e.kind}",
                "medium" if late else "low",
                f"{label}: {what} stop {i + 1} {e.data['name']!r}{extra}",
                e.time_ms,
                e.time_ms,  # a notice: raised and resolved at once
                stop_index=i,
                event=e.kind,
                **e.data,
            )
        elif e.kind == "skipped" and i is not None:
            arrival = outcomes[i].arrival_ms
            add(
                "route_stop",
                f"route:{route_id}:stop:{i}:skipped",
                "high",
                f"{label}: stop {i + 1} {e.data['name']!r} skipped ({e.data['reason']})",
                e.time_ms,
                arrival,
                stop_index=i,
                event="skipped",
                **e.data,
            )
        elif e.kind == "eta_late" and i is not None:
            o = outcomes[i]
            settled = o.arrival_ms if o.arrival_ms is not None else o.skipped_ms
            add(
                "eta_late",
                f"route:{route_id}:eta:{i}",
                "medium",
                f"{label}: expected {e.data['late_by_s']:.0f} s late at stop {i + 1} "
                f"{e.data['name']!r}",
                e.time_ms,
                settled,
                stop_index=i,
                **e.data,
            )
    return out
