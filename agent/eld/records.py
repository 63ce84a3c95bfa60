"""The attributes every ELD event carries (Appendix A 4.5.1.1-4.5.1.6, 7.9, 7.19, 7.31-7.43):
sequence id, type/code, record status and origin, driver, duty status, vehicle miles,
engine hours and location, with the personal-conveyance reductions (4.7.3).

Units: ``odometer_km`` km as read from the engine (``Vehicle.TraveledDistance``),
``vehicle_miles`` whole statute miles, ``engine_hours`` hours at 0.1 h, lat/lon decimal
degrees rounded to 2 places (1 place while personal conveyance is active).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.eld.codes import (
    EV_LOGIN,
    EV_LOGOUT,
    EV_POWER_UP,
    EV_SHUT_DOWN,
    PERSONAL_CONVEYANCE,
    RECORD_ORIGIN,
    RECORD_STATUS_ACTIVE,
    event_code,
)
from agent.eld.driving import KMH_PER_MPH

# Events that carry {total} miles and hours; all others carry {accumulated}/{elapsed}
# since the last engine power-up (4.3.1.3, 4.3.1.4, 7.19, 7.43).
TOTAL_EVENTS = frozenset({EV_POWER_UP, EV_SHUT_DOWN, EV_LOGIN, EV_LOGOUT})
MAX_FIX_DISTANCE_MI = 5.0  # no valid fix within 5 miles of driving -> location "X" (4.3.1.6)


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """What the ELD knows of the vehicle at one moment (latest values, with their time)."""

    odometer_km: float | None = None  # total, from the engine
    engine_hours: float | None = None  # total, from the engine
    lat: float | None = None  # last valid fix (deg)
    lon: float | None = None
    fix_ms: int | None = None  # when that fix was taken (UTC ms)
    fix_odometer_km: float | None = None  # odometer when that fix was taken
    power_up_odometer_km: float | None = None  # at the last engine power-up
    power_up_engine_hours: float | None = None


def _miles(km: float) -> int:
    return int(km / KMH_PER_MPH)  # whole miles, truncated


def vehicle_attrs(name: str, v: VehicleSnapshot, reduced: bool) -> dict[str, Any]:
    """Vehicle miles and engine hours as Appendix A wants them for this event.

    While personal conveyance is active, they are blank except on engine power events."""
    total = name in TOTAL_EVENTS
    if reduced and name not in (EV_POWER_UP, EV_SHUT_DOWN):
        return {"odometer_km": None, "vehicle_miles": None, "engine_hours": None}
    out: dict[str, Any] = {
        "odometer_km": v.odometer_km,
        "vehicle_miles_basis": "total" if total else "accumulated",
        "engine_hours_basis": "total" if total else "elapsed",
    }
    miles: int | None = None
    if v.odometer_km is not None:
        if total:
            miles = min(_miles(v.odometer_km), 9_999_999)
        elif v.power_up_odometer_km is not None:
            miles = min(max(_miles(v.odometer_km - v.power_up_odometer_km), 0), 9_999)
    hours: float | None = None
    if v.engine_hours is not None:
        if total:
            hours = round(min(v.engine_hours, 99_999.9), 1)
        elif v.power_up_engine_hours is not None:
            hours = round(min(max(v.engine_hours - v.power_up_engine_hours, 0.0), 99.9), 1)
    out["vehicle_miles"] = miles
    out["engine_hours"] = hours
    return out


def location_attrs(v: VehicleSnapshot, reduced: bool) -> dict[str, Any]:
    """Last valid fix, its distance (whole miles, capped at 6, 7.9) and precision.

    ``location_precision``: conventional (2 decimals), reduced (1 decimal, PC) or
    unavailable (no fix within the last 5 miles of driving: Appendix A writes ``X``)."""
    if v.lat is None or v.lon is None:
        return {"lat": None, "lon": None, "location_precision": "unavailable"}
    distance_mi: float | None = None
    if v.odometer_km is not None and v.fix_odometer_km is not None:
        distance_mi = max(v.odometer_km - v.fix_odometer_km, 0.0) / KMH_PER_MPH
        if distance_mi > MAX_FIX_DISTANCE_MI:
            return {
                "lat": None,
                "lon": None,
                "location_precision": "unavailable",
                "distance_since_fix_mi": 6,
            }
    places = 1 if reduced else 2
    out: dict[str, Any] = {
        "lat": round(v.lat, places),
        "lon": round(v.lon, places),
        "location_precision": "reduced" if reduced else "conventional",
        "fix_time_ms": v.fix_ms,
    }
    if distance_mi is not None:
        out["distance_since_fix_mi"] = min(int(distance_mi), 6)
    return out


def event_attrs(
    name: str,
    *,
    seq: int | None,
    origin: str,
    driver_id: str,
    duty_status: str,
    vehicle: VehicleSnapshot,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The full attribute set of one ELD event. ``duty_status``: the status in force
    after the event; ``extra`` holds event-specific fields (``status``, ``note``...)."""
    extra = dict(extra or {})
    reduced = duty_status == PERSONAL_CONVEYANCE
    code = event_code(name, extra.get("status"), reduced)
    attrs: dict[str, Any] = {
        "eld_seq": seq,
        "eld_event_type": code[0] if code else None,
        "eld_event_code": code[1] if code else None,
        "record_status": RECORD_STATUS_ACTIVE,
        "record_origin": RECORD_ORIGIN[origin],
        "origin": origin,
        "driver_id": driver_id,
        "duty_status": duty_status,
    }
    attrs.update(vehicle_attrs(name, vehicle, reduced))
    attrs.update(location_attrs(vehicle, reduced))
    attrs.update(extra)
    return attrs
