"""The ELD duty store: a real SQLite file that keeps login, statuses and the event
sequence counter across restarts (Appendix A 4.4.4.1, 7.24)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from agent.eld import DutyStore, DutyStoreError, EldConflict, EldInputError, EldParams
from agent.eld.driving import VEHICLE_SPEED
from agent.eld.recorder import EldRecorder
from agent.model import LANE_ELD, Signal

T0 = 1_767_225_600_000  # UTC ms


def test_eld_seq_continues_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "eld.db"
    store = DutyStore(path)
    seqs = [store.login("jsmith", time_ms=T0).attrs["eld_seq"]]
    seqs.append(store.set_status("on_duty", "pre-trip", time_ms=T0 + 1).attrs["eld_seq"])
    rec = EldRecorder(EldParams(), store)
    seqs += [e.attrs["eld_seq"] for e in rec.feed(Signal(T0 + 2, VEHICLE_SPEED, 30.0, "km/h", "x"))]
    store.close()

    store = DutyStore(path)
    snap = store.snapshot()
    assert snap.driver_id == "jsmith" and snap.status == "driving"
    assert snap.next_seq == 3
    rec = EldRecorder(EldParams(), store)
    events = [
        e
        for i in range(4)
        for e in rec.feed(Signal(T0 + 10 + i * 1000, VEHICLE_SPEED, 0.0, "km/h", "x"))
    ]
    assert events == []  # stopping records nothing by itself
    seqs.append(store.logout(time_ms=T0 + 10_000).attrs["eld_seq"])
    assert seqs == [0, 1, 2, 3]
    store.close()


def test_eld_seq_wraps_after_ffff(tmp_path: Path) -> None:
    path = tmp_path / "eld.db"
    DutyStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', '65534')")
    conn.commit()
    conn.close()
    store = DutyStore(path)
    got = [
        store.login("jsmith", time_ms=T0).attrs["eld_seq"],
        store.set_status("sleeper_berth", time_ms=T0 + 1).attrs["eld_seq"],
        store.set_status("off_duty", time_ms=T0 + 2).attrs["eld_seq"],
    ]
    assert got == [65534, 65535, 0]
    store.close()


def test_damaged_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "eld.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DutyStoreError, match="cannot open the ELD duty store"):
        DutyStore(path)
    good = tmp_path / "good.db"
    DutyStore(good).close()
    conn = sqlite3.connect(good)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', '70000')")
    conn.commit()
    conn.close()
    with pytest.raises(DutyStoreError, match="next_seq"):
        DutyStore(good)


def test_driver_actions_validate_input(tmp_path: Path) -> None:
    store = DutyStore(tmp_path / "eld.db")
    with pytest.raises(EldConflict, match="log in first"):
        store.set_status("on_duty", time_ms=T0)
    with pytest.raises(EldConflict, match="nobody"):
        store.logout(time_ms=T0)
    for bad in ("ab", "has space", "x" * 61, 42, None):
        with pytest.raises(EldInputError, match="driver_id"):
            store.login(bad, time_ms=T0)
    with pytest.raises(EldInputError, match="reserved"):
        store.login("Unidentified", time_ms=T0)
    login = store.login("jsmith", time_ms=T0)
    assert login.lane == LANE_ELD
    assert (login.attrs["eld_event_type"], login.attrs["eld_event_code"]) == (5, 1)
    with pytest.raises(EldConflict, match="log out first"):
        store.login("other", time_ms=T0)
    with pytest.raises(EldInputError, match="automatically"):
        store.set_status("driving", time_ms=T0)
    with pytest.raises(EldInputError, match="status must be one of"):
        store.set_status("napping", time_ms=T0)
    with pytest.raises(EldConflict, match="not enabled"):
        store.set_status("personal_conveyance", "to the motel", time_ms=T0)
    with pytest.raises(EldInputError, match="note"):
        store.set_status("on_duty", "x" * 61, time_ms=T0)
    with pytest.raises(EldConflict, match="already off_duty"):
        store.set_status("off_duty", time_ms=T0)
    ev = store.set_status("on_duty", "fuel", time_ms=T0 + 5)
    assert ev.attrs["note"] == "fuel" and ev.attrs["record_origin"] == 2
    cloud = store.set_status("off_duty", origin="cloud", time_ms=T0 + 6)
    assert cloud.attrs["record_origin"] == 3
    assert store.snapshot().next_seq == 3  # refused actions used no sequence id
    store.close()


def test_special_categories_need_a_note(tmp_path: Path) -> None:
    store = DutyStore(tmp_path / "eld.db", allow_personal_conveyance=True, allow_yard_move=True)
    store.login("jsmith", time_ms=T0)
    with pytest.raises(EldInputError, match="at least 4"):
        store.set_status("yard_move", "yd", time_ms=T0)
    ev = store.set_status("yard_move", "yard shunt", time_ms=T0)
    assert (ev.attrs["eld_event_type"], ev.attrs["eld_event_code"]) == (3, 2)
    assert store.snapshot().allowed == (
        "off_duty",
        "sleeper_berth",
        "on_duty",
        "personal_conveyance",
        "yard_move",
    )
    store.close()


def test_concurrent_writers_get_distinct_sequence_ids(tmp_path: Path) -> None:
    store = DutyStore(tmp_path / "eld.db")
    store.login("jsmith", time_ms=T0)
    seqs: list[int] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def flip(n: int) -> None:
        for i in range(20):
            try:
                status = "on_duty" if store.snapshot().status == "off_duty" else "off_duty"
                ev = store.set_status(status, time_ms=T0 + n * 100 + i)
                with lock:
                    seqs.append(ev.attrs["eld_seq"])
            except EldConflict as exc:  # another thread set the same status first
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=flip, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 1 + len(seqs)))
    assert len(seqs) + len(errors) == 80
    assert store.snapshot().next_seq == 1 + len(seqs)
    store.close()
