"""Threshold rules on engine values with hysteresis and a minimum duration (event time).

A rule enters when a sample passes ``value`` (``op`` "above" or "below") and leaves
only when a sample is back past ``clear`` (hysteresis band between the two). It alerts
when the violation lasted ``for_s`` seconds. ``when_running`` rules ignore samples taken
with the engine stopped (oil pressure is 0 kPa with the engine off; that is no fault).
A fleet without threshold rules of its own gets ``DEFAULT_RULES``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

RPM = "Vehicle.Powertrain.CombustionEngine.Speed"
RUNNING_RPM = 400.0  # rpm above which the engine counts as running


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """One rule; ``key`` names it inside alert keys (``r<id>`` or ``default-<name>``)."""

    key: str
    name: str
    signal: str  # VSS name, e.g. Vehicle.Powertrain.CombustionEngine.ECT (°C)
    op: str  # "above" | "below"
    value: float
    clear: float
    severity: str
    for_s: float = 0.0
    when_running: bool = False
    unit: str = ""

    def violates(self, v: float) -> bool:
        return v > self.value if self.op == "above" else v < self.value

    def cleared(self, v: float) -> bool:
        return v <= self.clear if self.op == "above" else v >= self.clear


def parse_rule(key: str, name: str, config: Mapping[str, Any]) -> ThresholdRule:
    """A rule from its stored/API config; ValueError says what is wrong."""
    from cloud.alerts.model import SEVERITIES

    signal = config.get("signal")
    if not isinstance(signal, str) or not signal:
        raise ValueError("threshold rule needs 'signal' (a VSS signal name)")
    op = config.get("op")
    if op not in ("above", "below"):
        raise ValueError("threshold rule 'op' must be 'above' or 'below'")
    value = _number(config, "value")
    clear = _number(config, "clear", value)
    if (op == "above" and clear > value) or (op == "below" and clear < value):
        raise ValueError("'clear' must be on the normal side of 'value' (hysteresis)")
    severity = config.get("severity", "medium")
    if severity not in SEVERITIES:
        raise ValueError(f"'severity' must be one of {SEVERITIES}")
    for_s = _number(config, "for_s", 0.0)
    if for_s < 0:
        raise ValueError("'for_s' must be >= 0")
    return ThresholdRule(
        key=key,
        name=name,
        signal=signal,
        op=op,
        value=value,
        clear=clear,
        severity=severity,
        for_s=for_s,
        when_running=bool(config.get("when_running", False)),
        unit=str(config.get("unit", "")),
    )


def _number(config: Mapping[str, Any], name: str, default: float | None = None) -> float:
    raw = config.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError(f"threshold rule needs a finite number '{name}'")
    return float(raw)


DEFAULT_RULES: tuple[ThresholdRule, ...] = (
    ThresholdRule(
        "default-coolant_hot",
        "Engine coolant temperature high",
        "Vehicle.Powertrain.CombustionEngine.ECT",
        "above",
        105.0,
        100.0,
        "high",
        30.0,
        True,
        "°C",
    ),
    ThresholdRule(
        "default-oil_pressure_low",
        "Engine oil pressure low",
        "Vehicle.Powertrain.CombustionEngine.EOP",
        "below",
        70.0,
        100.0,
        "high",
        10.0,
        True,
        "kPa",
    ),
    ThresholdRule(
        "default-battery_low",
        "Battery voltage low",
        "Vehicle.LowVoltageBattery.CurrentVoltage",
        "below",
        11.8,
        12.2,
        "medium",
        300.0,
        False,
        "V",
    ),
)


@dataclass(frozen=True, slots=True)
class Episode:
    """One violation: from the first violating sample to the first clearing one (None: open)."""

    start_ms: int
    end_ms: int | None
    last_active_ms: int  # newest sample still in violation or in the band
    worst: float  # highest (above) / lowest (below) value seen

    def lasted_ms(self) -> int:
        return (self.end_ms if self.end_ms is not None else self.last_active_ms) - self.start_ms


def episodes(
    rule: ThresholdRule, samples: Iterable[tuple[int, Mapping[str, Any]]]
) -> list[Episode]:
    """Violations of ``rule`` in ``(time_ms, engine record data)`` samples in event-time order.

    Samples without the rule's signal (or with a non-number) are skipped; with
    ``when_running``, a sample taken with the engine stopped counts as clearing.
    """
    out: list[Episode] = []
    start: int | None = None
    last_active = 0
    worst = 0.0
    running: bool | None = None
    for time_ms, data in samples:
        rpm = data.get(RPM)
        if isinstance(rpm, int | float) and not isinstance(rpm, bool):
            running = rpm > RUNNING_RPM
        v = data.get(rule.signal)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            continue
        v = float(v)
        stopped = rule.when_running and running is not True
        if start is None:
            if not stopped and rule.violates(v):
                start, last_active, worst = time_ms, time_ms, v
            continue
        if stopped or rule.cleared(v):
            out.append(Episode(start, time_ms, last_active, worst))
            start = None
            continue
        last_active = time_ms
        worst = max(worst, v) if rule.op == "above" else min(worst, v)
    if start is not None:
        out.append(Episode(start, None, last_active, worst))
    return out
