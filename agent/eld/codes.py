"""ELD vocabulary: duty statuses, record origins and the Appendix A event type/code of
every event name the edge emits (49 CFR 395 Subpart B, Appendix A, 7.20, 7.22, 7.25).
"""

from __future__ import annotations

OFF_DUTY = "off_duty"
SLEEPER_BERTH = "sleeper_berth"
DRIVING = "driving"
ON_DUTY = "on_duty"  # on duty, not driving
PERSONAL_CONVEYANCE = "personal_conveyance"  # off duty + PC indication
YARD_MOVE = "yard_move"  # on duty not driving + YM indication

STATUSES = (OFF_DUTY, SLEEPER_BERTH, DRIVING, ON_DUTY, PERSONAL_CONVEYANCE, YARD_MOVE)
SPECIAL = frozenset({PERSONAL_CONVEYANCE, YARD_MOVE})  # motion does not mean driving (4.4.1.1)
DRIVER_SELECTABLE = (OFF_DUTY, SLEEPER_BERTH, ON_DUTY, PERSONAL_CONVEYANCE, YARD_MOVE)

UNIDENTIFIED = "unidentified"  # the unidentified driver profile (4.1.5(b))

# Record origin, Appendix A 7.22 (Table 7).
ORIGIN_AUTO = "auto"
ORIGIN_DRIVER = "driver"
ORIGIN_CLOUD = "cloud"  # edit/entry requested by an authenticated user other than the driver
RECORD_ORIGIN = {ORIGIN_AUTO: 1, ORIGIN_DRIVER: 2, ORIGIN_CLOUD: 3}
RECORD_STATUS_ACTIVE = 1  # 7.23, Table 8

# Event names.
EV_DUTY = "eld_duty_status"
EV_INTERMEDIATE = "eld_intermediate_log"
EV_POWER_UP = "eld_engine_power_up"
EV_SHUT_DOWN = "eld_engine_shut_down"
EV_LOGIN = "eld_login"
EV_LOGOUT = "eld_logout"
EV_PROMPT = "eld_driving_prompt"  # not an Appendix A record: carries no sequence id

# Duty status -> (event type, event code), 7.20/7.25 Table 6. PC and YM are type 3
# "special driving category" indications; the implied status is off duty / on duty.
DUTY_CODES: dict[str, tuple[int, int]] = {
    OFF_DUTY: (1, 1),
    SLEEPER_BERTH: (1, 2),
    DRIVING: (1, 3),
    ON_DUTY: (1, 4),
    PERSONAL_CONVEYANCE: (3, 1),
    YARD_MOVE: (3, 2),
}


def event_code(name: str, status: str | None, reduced: bool) -> tuple[int, int] | None:
    """(Appendix A event type, code) of an emitted event; None for the prompt.

    ``reduced``: personal conveyance is active, so location precision is reduced (codes
    2 and 4 of types 2 and 6)."""
    if name == EV_DUTY:
        return DUTY_CODES.get(status or "")
    if name == EV_INTERMEDIATE:
        return (2, 2 if reduced else 1)
    if name == EV_LOGIN:
        return (5, 1)
    if name == EV_LOGOUT:
        return (5, 2)
    if name == EV_POWER_UP:
        return (6, 2 if reduced else 1)
    if name == EV_SHUT_DOWN:
        return (6, 4 if reduced else 3)
    return None


SEQ_MODULO = 0x10000  # sequence id 0000-FFFF, then 0 again (4.4.4.1, 7.24)
