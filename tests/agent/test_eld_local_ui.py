"""The driver's local web interface over real HTTP (stdlib server on a free port)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.eld import DutyStore, EldParams, EldRecorder
from agent.eld.driving import VEHICLE_SPEED
from agent.eld.local_ui import LocalUi
from agent.model import Event, Signal

T0 = 1_767_225_600_000  # UTC ms


class Ui:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = T0
        self.store = DutyStore(
            tmp_path / "eld.db", allow_personal_conveyance=True, clock_ms=lambda: self.clock
        )
        self.submitted: list[Event] = []
        self.ui = LocalUi(self.store, self.submitted.append, "127.0.0.1", 0)
        self.ui.start()
        self.base = f"http://127.0.0.1:{self.ui.port}"

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None):
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("Content-Type")

    def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        status, payload, _ = self.request("POST", path, body if body is not None else {}, raw)
        return status, json.loads(payload)


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    u = Ui(tmp_path)
    yield u
    u.ui.stop()
    u.store.close()


def test_page_and_state(ui: Ui) -> None:
    status, body, ctype = ui.request("GET", "/")
    assert status == 200 and ctype.startswith("text/html")
    assert b"/api/prompt/answer" in body and b"<script>" in body
    status, body, ctype = ui.request("GET", "/api/state")
    state = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert state["logged_in"] is False and state["profile"] == "unidentified"
    assert state["status"] == "off_duty" and state["prompt"] is None
    assert "personal_conveyance" in state["selectable"] and "yard_move" not in state["selectable"]


def test_login_status_logout_in_order(ui: Ui) -> None:
    status, state = ui.post("/api/login", {"driver_id": "jsmith"})
    assert status == 200 and state["driver_id"] == "jsmith"
    ui.clock += 1000
    status, state = ui.post("/api/status", {"status": "on_duty", "note": "pre-trip"})
    assert status == 200 and state["status"] == "on_duty"
    ui.clock += 1000
    status, _ = ui.post("/api/status", {"status": "personal_conveyance", "note": "to motel"})
    assert status == 200
    ui.clock += 1000
    status, state = ui.post("/api/logout")
    assert status == 200 and state["logged_in"] is False
    got = [(e.name, e.attrs.get("status"), e.attrs["eld_seq"], e.time_ms) for e in ui.submitted]
    assert got == [
        ("eld_login", None, 0, T0),
        ("eld_duty_status", "on_duty", 1, T0 + 1000),
        ("eld_duty_status", "personal_conveyance", 2, T0 + 2000),
        ("eld_logout", None, 3, T0 + 3000),
    ]
    assert all(e.attrs["driver_id"] == "jsmith" for e in ui.submitted)
    assert ui.submitted[1].attrs["note"] == "pre-trip"


def test_bad_requests_get_400_with_a_reason(ui: Ui) -> None:
    cases = [
        ("/api/login", None, b"{not json"),
        ("/api/login", None, b"[1, 2]"),
        ("/api/login", {}, None),
        ("/api/login", {"driver_id": "a b"}, None),
    ]
    for path, body, raw in cases:
        status, answer = ui.post(path, body, raw)
        assert status == 400, (path, body, raw)
        assert isinstance(answer["error"], str) and answer["error"]
    ui.post("/api/login", {"driver_id": "jsmith"})
    for body in ({"status": "driving"}, {"status": "nap"}, {"status": "on_duty", "note": 5}):
        status, answer = ui.post("/api/status", body)
        assert status == 400 and answer["error"], body
    status, answer = ui.post("/api/prompt/answer", {"driving": "yes"})
    assert status == 400 and "true or false" in answer["error"]
    status, answer = ui.post("/api/prompt/answer", {"driving": True})
    assert status == 409 and "no driving prompt" in answer["error"]
    status, answer = ui.post("/api/login", {"driver_id": "other"})
    assert status == 409
    status, _, _ = ui.request("GET", "/api/nothing")
    assert status == 404
    status, _, _ = ui.request("GET", "/api/login")
    assert status == 405
    status, answer = ui.post("/api/login", raw=b"x" * 5000)
    assert status == 400 and "4096" in answer["error"]
    assert [e.name for e in ui.submitted] == ["eld_login"]  # nothing else recorded


def test_prompt_answered_from_the_cab(ui: Ui) -> None:
    ui.post("/api/login", {"driver_id": "jsmith"})
    rec = EldRecorder(EldParams(), ui.store)

    def speed(t: int, kmh: float) -> list[Event]:
        return rec.feed(Signal(t, VEHICLE_SPEED, kmh, "km/h", "j1939"))

    speed(T0 + 1000, 40.0)
    for i in range(0, 5 * 60 + 2):
        speed(T0 + 2000 + i * 1000, 0.0)
    status, body, _ = ui.request("GET", "/api/state")
    state = json.loads(body)
    assert state["status"] == "driving" and state["moving"] is False
    assert state["prompt"]["answer_by_ms"] - state["prompt"]["since_ms"] == 60_000
    ui.clock = T0 + 6 * 60_000
    status, state = ui.post("/api/prompt/answer", {"driving": False})
    assert status == 200 and state["status"] == "on_duty" and state["prompt"] is None
    last = ui.submitted[-1]
    assert (last.name, last.attrs["status"], last.attrs["record_origin"]) == (
        "eld_duty_status",
        "on_duty",
        2,
    )


def test_status_refused_while_moving(ui: Ui) -> None:
    ui.post("/api/login", {"driver_id": "jsmith"})
    rec = EldRecorder(EldParams(), ui.store)
    rec.feed(Signal(T0 + 1000, VEHICLE_SPEED, 50.0, "km/h", "j1939"))
    status, answer = ui.post("/api/status", {"status": "off_duty"})
    assert status == 409 and "moving" in answer["error"]
    status, answer = ui.post("/api/logout")
    assert status == 409
