"""The ELD's durable state on the gateway: who is logged in, each profile's duty status,
the ELD event sequence counter (Appendix A 4.4.4.1, 7.24: one counter per ELD, across
users and power cycles, 0-FFFF then 0), the open "still driving?" prompt and driver
actions waiting for the recorder.

One small SQLite file (WAL, synchronous=FULL), one connection guarded by a lock: the
local UI thread writes, the pipeline thread reads and records automatic events. Every
change that produces an event commits the new state and the sequence id together, so a
restart continues the counter without a gap or a repeat.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.eld.codes import (
    DRIVER_SELECTABLE,
    DRIVING,
    EV_DUTY,
    EV_LOGIN,
    EV_LOGOUT,
    EV_PROMPT,
    OFF_DUTY,
    ON_DUTY,
    ORIGIN_AUTO,
    ORIGIN_CLOUD,
    ORIGIN_DRIVER,
    PERSONAL_CONVEYANCE,
    SEQ_MODULO,
    STATUSES,
    UNIDENTIFIED,
    YARD_MOVE,
)
from agent.eld.errors import DutyStoreError, EldConflict, EldInputError
from agent.eld.records import VehicleSnapshot, event_attrs
from agent.model import LANE_ELD, Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS statuses (
    driver_id TEXT PRIMARY KEY, status TEXT NOT NULL, since_ms INTEGER NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL
);
"""
# ELD username 4-60 characters (7.18); printable, no spaces, no commas (output file).
DRIVER_ID = re.compile(r"[A-Za-z0-9_.@+-]{4,60}")
NOTE_MAX = 60  # comment/annotation, 7.6
NOTE_MIN = 4  # annotation length when one is required, 4.3.2.6


@dataclass(frozen=True, slots=True)
class DutySnapshot:
    """The store at one moment. ``driver_id`` None: nobody logged in (events then go to
    the unidentified driver profile). Times UTC ms."""

    driver_id: str | None
    status: str
    status_since_ms: int | None
    status_origin: str | None
    prompt_at_ms: int | None
    moving: bool
    engine_on: bool
    next_seq: int
    vehicle: VehicleSnapshot
    allowed: tuple[str, ...]

    @property
    def profile(self) -> str:
        return self.driver_id or UNIDENTIFIED


def _now_ms() -> int:
    return int(time.time() * 1000)


class DutyStore:
    """Duty state of one ELD. ``allow_personal_conveyance`` / ``allow_yard_move``: the
    carrier enabled these special categories (App. A 4.3.2.2.2/4.4.1.1: off by default).
    ``clock_ms``: wall clock for driver actions (UTC ms)."""

    def __init__(
        self,
        path: str | Path,
        *,
        allow_personal_conveyance: bool = False,
        allow_yard_move: bool = False,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.path = Path(path)
        self.clock_ms = clock_ms
        allowed = [OFF_DUTY, "sleeper_berth", ON_DUTY]
        if allow_personal_conveyance:
            allowed.append(PERSONAL_CONVEYANCE)
        if allow_yard_move:
            allowed.append(YARD_MOVE)
        self.allowed = tuple(s for s in DRIVER_SELECTABLE if s in allowed)
        self._lock = threading.RLock()
        self._moving = False
        self._vehicle = VehicleSnapshot()
        # The recorder reads the state for every observation (CAN: hundreds per second);
        # the stored part is cached and dropped at every write.
        self._cached: tuple[Any, ...] | None = None
        self._actions_pending = True  # checked once at the first take_confirmations()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
            self._check()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise DutyStoreError(
                f"{self.path}: cannot open the ELD duty store ({exc}); if the file is damaged, "
                "move it aside: the driver logs in again and the sequence counter restarts "
                "from the cloud's last known value"
            ) from exc
        vehicle = self._meta("vehicle_baseline", {})
        self._vehicle = VehicleSnapshot(
            power_up_odometer_km=vehicle.get("odometer_km"),
            power_up_engine_hours=vehicle.get("engine_hours"),
        )

    # ------------------------------------------------------------ reading
    def _check(self) -> None:
        seq = self._meta("next_seq", 0)
        if not isinstance(seq, int) or not 0 <= seq < SEQ_MODULO:
            raise DutyStoreError(f"{self.path}: next_seq holds {seq!r}, not 0..65535")
        for driver, status in self._db.execute("SELECT driver_id, status FROM statuses"):
            if status not in STATUSES:
                raise DutyStoreError(f"{self.path}: unknown status {status!r} of {driver!r}")

    def _meta(self, key: str, default: Any) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError as exc:
            raise DutyStoreError(f"{self.path}: meta {key!r} is not JSON: {row[0]!r}") from exc

    def _put(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, json.dumps(value)]
        )

    def _status_row(self, profile: str) -> tuple[str, int | None, str | None]:
        row = self._db.execute(
            "SELECT status, since_ms, origin FROM statuses WHERE driver_id = ?", [profile]
        ).fetchone()
        return (OFF_DUTY, None, None) if row is None else (row[0], row[1], row[2])

    def snapshot(self) -> DutySnapshot:
        with self._lock:
            if self._cached is None:
                driver = self._meta("driver_id", None)
                self._cached = (
                    driver,
                    *self._status_row(driver or UNIDENTIFIED),
                    self._meta("prompt_at_ms", None),
                    bool(self._meta("engine_on", False)),
                    self._meta("next_seq", 0),
                )
            driver, status, since, origin, prompt, engine_on, seq = self._cached
            return DutySnapshot(
                driver_id=driver,
                status=status,
                status_since_ms=since,
                status_origin=origin,
                prompt_at_ms=prompt,
                moving=self._moving,
                engine_on=engine_on,
                next_seq=seq,
                vehicle=self._vehicle,
                allowed=self.allowed,
            )

    # ------------------------------------------------------------ writing
    def _transaction(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            self._cached = None
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn()
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return result
            except sqlite3.DatabaseError as exc:
                raise DutyStoreError(
                    f"{self.path}: cannot write the ELD duty store: {exc}"
                ) from exc

    def _event(
        self,
        name: str,
        time_ms: int,
        origin: str,
        extra: dict[str, Any],
        *,
        sequenced: bool = True,
        profile: str | None = None,
    ) -> Event:
        """Build one event inside a transaction; allocates the next sequence id."""
        seq: int | None = None
        if sequenced:
            seq = self._meta("next_seq", 0)
            self._put("next_seq", (seq + 1) % SEQ_MODULO)
        driver = profile or self._meta("driver_id", None) or UNIDENTIFIED
        status = self._status_row(driver)[0]
        attrs = event_attrs(
            name,
            seq=seq,
            origin=origin,
            driver_id=driver,
            duty_status=status,
            vehicle=self._vehicle,
            extra=extra,
        )
        return Event(time_ms, name, attrs, LANE_ELD)

    def _set_status(self, profile: str, status: str, time_ms: int, origin: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO statuses (driver_id, status, since_ms, origin) VALUES (?,?,?,?)",
            [profile, status, time_ms, origin],
        )
        self._put("prompt_at_ms", None)  # any status change answers an open prompt

    def _require_stationary(self, what: str) -> None:
        if self._moving:
            raise EldConflict(f"cannot {what} while the vehicle is moving; stop first")

    # ------------------------------------------------------------ driver actions
    def login(self, driver_id: Any, time_ms: int | None = None) -> Event:
        """Log a driver in (event type 5 code 1). One driver at a time."""
        if not isinstance(driver_id, str) or not DRIVER_ID.fullmatch(driver_id):
            raise EldInputError(
                "driver_id must be 4-60 characters of A-Z a-z 0-9 _ . @ + - (ELD username)"
            )
        if driver_id.lower() == UNIDENTIFIED:
            raise EldInputError(f"'{UNIDENTIFIED}' is reserved for the unidentified driver")
        t = self.clock_ms() if time_ms is None else time_ms

        def run() -> Event:
            current = self._meta("driver_id", None)
            if current is not None:
                raise EldConflict(f"driver {current!r} is logged in; log out first")
            self._put("driver_id", driver_id)
            return self._event(EV_LOGIN, t, ORIGIN_DRIVER, {})

        return self._transaction(run)  # type: ignore[no-any-return]

    def logout(self, time_ms: int | None = None) -> Event:
        """Log the driver out (event type 5 code 2); refused while moving (4.3.2)."""
        t = self.clock_ms() if time_ms is None else time_ms

        def run() -> Event:
            current = self._meta("driver_id", None)
            if current is None:
                raise EldConflict("nobody is logged in")
            self._require_stationary("log out")
            event = self._event(EV_LOGOUT, t, ORIGIN_DRIVER, {}, profile=current)
            self._put("driver_id", None)
            self._put("prompt_at_ms", None)
            return event

        return self._transaction(run)  # type: ignore[no-any-return]

    def set_status(
        self,
        status: Any,
        note: Any = "",
        *,
        origin: str = ORIGIN_DRIVER,
        time_ms: int | None = None,
    ) -> Event:
        """The driver (or, ``origin="cloud"``, the carrier) selects a duty status.

        Driving is never selected by hand: it is detected. Personal conveyance and yard
        move need the carrier's permission and an annotation of 4-60 characters."""
        if origin not in (ORIGIN_DRIVER, ORIGIN_CLOUD):
            raise EldInputError(f"origin must be driver or cloud, not {origin!r}")
        if status == DRIVING:
            raise EldInputError("driving is recorded automatically when the vehicle moves")
        if status not in STATUSES:
            raise EldInputError(f"status must be one of {', '.join(DRIVER_SELECTABLE)}")
        if status not in self.allowed:
            raise EldConflict(f"{status} is not enabled for this vehicle by the carrier")
        if note is None:
            note = ""
        if not isinstance(note, str) or len(note) > NOTE_MAX or not note.isprintable():
            raise EldInputError(f"note must be printable text of at most {NOTE_MAX} characters")
        note = note.strip()
        if status in (PERSONAL_CONVEYANCE, YARD_MOVE) and len(note) < NOTE_MIN:
            raise EldInputError(f"{status} needs a note of at least {NOTE_MIN} characters")
        t = self.clock_ms() if time_ms is None else time_ms

        def run() -> Event:
            driver = self._meta("driver_id", None)
            if driver is None:
                raise EldConflict("log in first: duty status belongs to a driver")
            self._require_stationary("change the duty status")
            if self._status_row(driver)[0] == status:
                raise EldConflict(f"the status is already {status}")
            self._set_status(driver, status, t, origin)
            extra: dict[str, Any] = {"status": status}
            if note:
                extra["note"] = note
            return self._event(EV_DUTY, t, origin, extra)

        return self._transaction(run)  # type: ignore[no-any-return]

    def answer_prompt(self, driving: Any, time_ms: int | None = None) -> list[Event]:
        """Answer "are you still driving?": yes keeps driving (the 5 minutes start again),
        no records on duty not driving (driver entry)."""
        if not isinstance(driving, bool):
            raise EldInputError("'driving' must be true or false")
        t = self.clock_ms() if time_ms is None else time_ms

        def run() -> list[Event]:
            if self._meta("prompt_at_ms", None) is None:
                raise EldConflict("no driving prompt is open")
            profile = self._meta("driver_id", None)
            if profile is None:  # 4.1.5(b): the only entry allowed then is the login
                raise EldConflict("log in first: the prompt is for the driver")
            if driving:
                self._put("prompt_at_ms", None)
                self._db.execute(
                    "INSERT INTO actions (time_ms, kind, data) VALUES (?, 'still_driving', '{}')",
                    [t],
                )
                self._actions_pending = True
                return []
            self._set_status(profile, ON_DUTY, t, ORIGIN_DRIVER)
            return [self._event(EV_DUTY, t, ORIGIN_DRIVER, {"status": ON_DUTY})]

        return self._transaction(run)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ the recorder's side
    def take_confirmations(self) -> list[int]:
        """Times (UTC ms) of "still driving" answers not yet seen by the recorder."""

        def run() -> list[int]:
            rows = self._db.execute(
                "SELECT id, time_ms FROM actions WHERE kind = 'still_driving' ORDER BY id"
            ).fetchall()
            if rows:
                self._db.execute("DELETE FROM actions WHERE id <= ?", [rows[-1][0]])
            return [int(r[1]) for r in rows]

        with self._lock:
            if not self._actions_pending:
                return []  # the common case: no query at all
            if self._db.execute("SELECT 1 FROM actions LIMIT 1").fetchone() is None:
                self._actions_pending = False
                return []
            taken: list[int] = self._transaction(run)
            self._actions_pending = False
            return taken

    def publish(self, *, moving: bool, vehicle: VehicleSnapshot) -> None:
        """The recorder's view of the vehicle (memory only): refuses driver changes while
        moving, fills vehicle fields of driver events."""
        with self._lock:
            self._moving = moving
            self._vehicle = vehicle

    def record_auto(
        self,
        name: str,
        time_ms: int,
        extra: dict[str, Any] | None = None,
        *,
        expect_status: str | None = None,
        expect_prompt: bool = False,
        engine_on: bool | None = None,
    ) -> Event | None:
        """Record one automatic event (origin auto). A duty-status event (``extra``
        holds ``status``) changes the current profile's status, but only if it is still
        ``expect_status`` (the driver may have changed it meanwhile: then None) and, with
        ``expect_prompt``, only while the prompt is still open (not answered meanwhile).
        A prompt event opens the prompt. ``engine_on`` persists the engine state and, on
        power-up, the published vehicle's baseline of accumulated miles/elapsed hours."""
        extra = dict(extra or {})
        extra.pop("origin", None)

        def run() -> Event | None:
            profile = self._meta("driver_id", None) or UNIDENTIFIED
            current = self._status_row(profile)[0]
            if name == EV_PROMPT:
                self._put("prompt_at_ms", time_ms)
                return self._event(name, time_ms, ORIGIN_AUTO, extra, sequenced=False)
            if name == EV_DUTY:
                if expect_status is not None and current != expect_status:
                    return None
                if expect_prompt and self._meta("prompt_at_ms", None) is None:
                    return None
                self._set_status(profile, extra["status"], time_ms, ORIGIN_AUTO)
            if engine_on is not None:
                self._put("engine_on", engine_on)
                if engine_on:
                    v = self._vehicle  # the recorder published the new baseline first
                    self._put(
                        "vehicle_baseline",
                        {
                            "odometer_km": v.power_up_odometer_km,
                            "engine_hours": v.power_up_engine_hours,
                        },
                    )
            return self._event(name, time_ms, ORIGIN_AUTO, extra)

        return self._transaction(run)  # type: ignore[no-any-return]

    def clear_prompt(self) -> None:
        """The vehicle moved again: the open prompt is moot."""
        self._transaction(lambda: self._put("prompt_at_ms", None))

    def close(self) -> None:
        with self._lock:
            self._db.close()
