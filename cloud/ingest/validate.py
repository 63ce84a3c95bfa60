"""Record checks the codec cannot make: values the database or the API could not use."""

from __future__ import annotations

import math
from typing import Any

from wire import Record

INT64_MAX = 2**63 - 1


def value_problem(value: Any, depth: int = 0) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"non-finite number {value!r}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
        return "integer outside 64 bits"
    if isinstance(value, str) and "\x00" in value:
        return "NUL character in a string"
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return "NUL character in a key"
            problem = value_problem(item, depth + 1)
            if problem:
                return f"{key}: {problem}"
    if isinstance(value, list):
        for item in value:
            problem = value_problem(item, depth + 1)
            if problem:
                return problem
    return None


def record_problem(rec: Record) -> str | None:
    """Why ``rec`` cannot be stored, or None when it is fine."""
    if rec.seq > INT64_MAX or rec.time_ms > INT64_MAX:
        return "sequence or time outside 64 bits"
    problem = value_problem(rec.data)
    if problem:
        return problem
    if rec.kind == "position":
        lat, lon = rec.data.get("lat"), rec.data.get("lon")
        if lat is not None and not -90.0 <= lat <= 90.0:
            return f"latitude {lat} outside -90..90"
        if lon is not None and not -180.0 <= lon <= 180.0:
            return f"longitude {lon} outside -180..180"
    elif rec.kind == "event":
        name = rec.data.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            return f"event without a usable name: {name!r}"
    return None
