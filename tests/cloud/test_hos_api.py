"""HOS API on SQLite and PostgreSQL: drivers, duty status entered through the API, edits
that keep the original, and clocks / violations / daily logs equal to the pure calculator
on the same events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cloud.api.app import create_app
from cloud.processors.hos import DutyEvent, daily_log, evaluate
from cloud.settings import Settings

FLEET = "hosfleet"
EXTRA_KEYS = ("driver_id", "home_terminal_tz", "current_status", "current_status_since")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A long day: 12 h 10 min of driving (driving_11) and 8 h without a 30-minute break.
LONG_DAY = [
    (utc(2026, 1, 5, 0), "off_duty"),
    (utc(2026, 1, 6, 6), "on_duty"),
    (utc(2026, 1, 6, 7), "driving"),
    (utc(2026, 1, 6, 12), "off_duty"),
    (utc(2026, 1, 6, 12, 20), "driving"),
    (utc(2026, 1, 6, 19, 30), "on_duty"),
    (utc(2026, 1, 6, 20), "off_duty"),
    (utc(2026, 1, 7, 6), "on_duty"),
    (utc(2026, 1, 7, 6, 30), "driving"),
]


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, default_fleet=FLEET), engine=engine)
    with TestClient(app) as c:
        yield c


def put_driver(client: TestClient, driver: str, tz: str = "UTC", **extra: Any) -> Any:
    body = {"name": f"Driver {driver}", "home_terminal_tz": tz, **extra}
    return client.put(f"/v1/drivers/{driver}", json=body)


def post(client: TestClient, driver: str, status: str, start: datetime, **extra: Any) -> Any:
    resp = client.post(
        f"/v1/drivers/{driver}/duty-status", json={"status": status, "start": z(start), **extra}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def expected_clocks(
    events: list[tuple[datetime, str]], at: datetime, tz: str = "UTC", **kw: Any
) -> dict[str, Any]:
    duty = [DutyEvent(t, s) for t, s in events if t <= at]
    return evaluate(
        duty, kw.get("ruleset", "us_property_70_8"), kw.get("exceptions", []), tz, at
    ).to_json()


def clocks(client: TestClient, driver: str, at: datetime) -> dict[str, Any]:
    resp = client.get(f"/v1/drivers/{driver}/hos/clocks", params={"at": z(at)})
    assert resp.status_code == 200, resp.text
    return resp.json()


def without_extra(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in EXTRA_KEYS}


def test_drivers_are_created_updated_listed_and_scoped_by_fleet(client: TestClient) -> None:
    created = put_driver(client, "jsmith", "America/Chicago")
    assert created.status_code == 201, created.text
    assert created.json()["ruleset"] == "us_property_70_8"
    assert created.json()["exceptions"] == []
    updated = put_driver(
        client, "jsmith", "America/Denver", ruleset="us_property_60_7", exceptions=["big_day_16"]
    )
    assert updated.status_code == 200
    got = client.get("/v1/drivers/jsmith").json()
    assert (got["home_terminal_tz"], got["ruleset"], got["exceptions"]) == (
        "America/Denver",
        "us_property_60_7",
        ["big_day_16"],
    )
    assert got["created_ms"] == created.json()["created_ms"]
    assert put_driver(client, "adoe", "UTC").status_code == 201
    page = client.get("/v1/drivers", params={"limit": 1}).json()
    rest = client.get("/v1/drivers", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [d["driver_id"] for d in page["data"] + rest["data"]] == ["adoe", "jsmith"]
    assert client.get("/v1/drivers", headers={"X-Fleet-Id": "elsewhere"}).json()["data"] == []
    assert client.get("/v1/drivers/jsmith", headers={"X-Fleet-Id": "elsewhere"}).status_code == 404


@pytest.mark.parametrize(
    ("driver", "body", "needle"),
    [
        ("jsmith", {"name": "J", "home_terminal_tz": "Mars/Olympus"}, "IANA"),
        ("jsmith", {"name": "J", "home_terminal_tz": "../../etc/passwd"}, "IANA"),
        ("jsmith", {"name": "J", "home_terminal_tz": "UTC", "ruleset": "eu_561"}, "ruleset"),
        ("jsmith", {"name": "J", "home_terminal_tz": "UTC", "exceptions": ["nap"]}, "exception"),
        (
            "jsmith",
            {
                "name": "J",
                "home_terminal_tz": "UTC",
                "ruleset": "us_passenger_70_8",
                "exceptions": ["big_day_16"],
            },
            "property",
        ),
        ("D1", {"name": "J", "home_terminal_tz": "UTC"}, "4-60"),
        ("unidentified", {"name": "J", "home_terminal_tz": "UTC"}, "unidentified"),
        ("jsmith", {"name": "J"}, "home_terminal_tz"),
    ],
)
def test_bad_driver_settings_are_refused(
    client: TestClient, driver: str, body: dict[str, Any], needle: str
) -> None:
    resp = client.put(f"/v1/drivers/{driver}", json=body)
    assert resp.status_code == 422
    assert needle in resp.text
    assert client.get(f"/v1/drivers/{driver}").status_code == 404


def test_duty_status_through_the_api_gives_the_calculators_clocks(client: TestClient) -> None:
    assert put_driver(client, "jsmith").status_code == 201
    for t, status in reversed(LONG_DAY):  # any order: late entries are allowed
        post(client, "jsmith", status, t)
    for at in (
        utc(2026, 1, 6, 9),
        utc(2026, 1, 6, 19),
        utc(2026, 1, 6, 23),
        utc(2026, 1, 7, 9),
    ):
        body = clocks(client, "jsmith", at)
        assert without_extra(body) == expected_clocks(LONG_DAY, at)
        in_force = [s for t, s in LONG_DAY if t < at][-1]
        assert body["current_status"] == in_force
    late = clocks(client, "jsmith", utc(2026, 1, 6, 21))
    assert {v["rule"] for v in late["violations"]} == {"driving_11", "break_30min"}
    listed = client.get("/v1/drivers/jsmith/duty-status").json()["data"]
    assert [(e["start"], e["status"]) for e in listed] == [(z(t), s) for t, s in LONG_DAY]
    assert all(e["origin"] == "driver" and e["record_status"] == "active" for e in listed)


def test_an_edit_keeps_the_original_and_changes_the_clocks(client: TestClient) -> None:
    put_driver(client, "jsmith")
    ids = {t: post(client, "jsmith", s, t)[0]["id"] for t, s in LONG_DAY}
    at = utc(2026, 1, 6, 21)
    before = clocks(client, "jsmith", at)
    # The 20-minute stop was really 40 minutes off duty: the driving resumed at 12:40.
    resp = client.patch(
        f"/v1/drivers/jsmith/duty-status/{ids[utc(2026, 1, 6, 12, 20)]}",
        json={"start": z(utc(2026, 1, 6, 12, 40)), "note": "lunch ran long"},
    )
    assert resp.status_code == 200, resp.text
    new = resp.json()
    assert new["edit_of"] == ids[utc(2026, 1, 6, 12, 20)]
    assert (new["status"], new["record_status"], new["note"]) == (
        "driving",
        "active",
        "lunch ran long",
    )
    edited = [(t, s) for t, s in LONG_DAY if t != utc(2026, 1, 6, 12, 20)]
    edited.append((utc(2026, 1, 6, 12, 40), "driving"))
    edited.sort()
    after = clocks(client, "jsmith", at)
    assert without_extra(after) == expected_clocks(edited, at)
    assert after != before
    assert "break_30min" not in {v["rule"] for v in after["violations"]}
    # the original is kept, inactive
    everything = client.get("/v1/drivers/jsmith/duty-status").json()["data"]
    original = [e for e in everything if e["id"] == ids[utc(2026, 1, 6, 12, 20)]]
    assert original and original[0]["record_status"] == "inactive_changed"
    assert original[0]["start"] == z(utc(2026, 1, 6, 12, 20))
    active = client.get(
        "/v1/drivers/jsmith/duty-status", params={"include_inactive": "false"}
    ).json()["data"]
    assert [(e["start"], e["status"]) for e in active] == [(z(t), s) for t, s in edited]
    # an inactive original cannot be edited again; an edit needs an annotation
    again = client.patch(
        f"/v1/drivers/jsmith/duty-status/{original[0]['id']}", json={"note": "once more"}
    )
    assert again.status_code == 409
    bare = client.patch(f"/v1/drivers/jsmith/duty-status/{new['id']}", json={"status": "on_duty"})
    assert bare.status_code == 422


def test_a_late_period_with_an_end_resumes_the_previous_status(client: TestClient) -> None:
    put_driver(client, "jsmith")
    for t, s in LONG_DAY:
        post(client, "jsmith", s, t)
    # Forgotten: fuel stop 14:00-14:45 in the middle of the afternoon's driving.
    rows = post(
        client,
        "jsmith",
        "on_duty",
        utc(2026, 1, 6, 14),
        end=z(utc(2026, 1, 6, 14, 45)),
        note="fuel",
        location="Joliet, IL",
    )
    assert [(r["status"], r["start"]) for r in rows] == [
        ("on_duty", z(utc(2026, 1, 6, 14))),
        ("driving", z(utc(2026, 1, 6, 14, 45))),
    ]
    assert rows[0]["location"] == "Joliet, IL"
    full = sorted(
        [*LONG_DAY, (utc(2026, 1, 6, 14), "on_duty"), (utc(2026, 1, 6, 14, 45), "driving")]
    )
    at = utc(2026, 1, 6, 21)
    assert without_extra(clocks(client, "jsmith", at)) == expected_clocks(full, at)


def test_violations_endpoint_lists_the_calculators_violations_in_range(
    client: TestClient,
) -> None:
    put_driver(client, "jsmith")
    for t, s in LONG_DAY:
        post(client, "jsmith", s, t)
    frm, to = utc(2026, 1, 6), utc(2026, 1, 7, 12)
    resp = client.get("/v1/drivers/jsmith/hos/violations", params={"from": z(frm), "to": z(to)})
    assert resp.status_code == 200, resp.text
    got = resp.json()["violations"]
    want = evaluate([DutyEvent(t, s) for t, s in LONG_DAY], "us_property_70_8", [], "UTC", to)
    assert [{k: v[k] for k in ("rule", "start", "end")} for v in got] == [
        v.to_json() for v in want.violations
    ]
    assert got and all(v["severity"] in ("nominal", "violation", "oos") for v in got)
    # a range after the violations has none
    quiet = client.get(
        "/v1/drivers/jsmith/hos/violations",
        params={"from": z(utc(2026, 1, 7)), "to": z(to)},
    ).json()
    assert quiet["violations"] == []


def test_daily_log_totals_in_the_home_terminal_zone(client: TestClient) -> None:
    put_driver(client, "jsmith", "America/Chicago")  # UTC-6 in January
    for t, s in LONG_DAY:
        post(client, "jsmith", s, t)
    resp = client.get("/v1/drivers/jsmith/hos/logs", params={"date": "2026-01-06"})
    assert resp.status_code == 200, resp.text
    log = resp.json()
    # Local 2026-01-06 = 2026-01-06T06:00Z .. 2026-01-07T06:00Z.
    totals = log["totals_s"]
    assert totals["driving"] == 5 * 3600 + 7 * 3600 + 10 * 60
    assert totals["on_duty"] == 3600 + 30 * 60  # 06-07Z and 19:30-20Z
    assert totals["off_duty"] == 20 * 60 + 10 * 3600
    assert log["day_length_s"] == 24 * 3600 and log["unknown_s"] == 0
    assert log["start"] == "2026-01-06T06:00:00Z"
    want = daily_log(
        [DutyEvent(t, s) for t, s in LONG_DAY],
        date(2026, 1, 6),
        "America/Chicago",
        now=datetime.now(UTC),
    )
    assert {k: log[k] for k in want} == want
    assert {e["status"] for e in log["events"]} == {"on_duty", "driving", "off_duty"}


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25)])
def test_daily_log_on_a_dst_day(client: TestClient, day: date, hours: int) -> None:
    put_driver(client, "jsmith", "America/Chicago")
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=6)
    events = [
        (local_midnight - timedelta(days=2), "off_duty"),
        (local_midnight + timedelta(hours=8), "on_duty"),
        (local_midnight + timedelta(hours=9), "driving"),
        (local_midnight + timedelta(hours=15), "off_duty"),
    ]
    for t, s in events:
        post(client, "jsmith", s, t)
    log = client.get("/v1/drivers/jsmith/hos/logs", params={"date": day.isoformat()}).json()
    assert log["day_length_s"] == hours * 3600
    assert sum(log["totals_s"].values()) + log["unknown_s"] == hours * 3600
    assert log["unknown_s"] == 0
    assert log["totals_s"]["driving"] == 6 * 3600
    assert log["segments"][0]["start_local"].startswith(f"{day.isoformat()}T00:00:00")
    assert log["segments"][-1]["end_local"].startswith(
        f"{(day + timedelta(days=1)).isoformat()}T00:00:00"
    )


def test_bad_requests_get_clear_answers(client: TestClient) -> None:
    put_driver(client, "jsmith")
    post(client, "jsmith", "off_duty", utc(2026, 1, 5))
    url = "/v1/drivers/jsmith/duty-status"
    cases = [
        ({"status": "napping", "start": "2026-01-06T06:00:00Z"}, 422, "unknown status"),
        ({"status": "on_duty", "start": "2026-01-06T06:00:00"}, 422, "UTC offset"),
        ({"status": "on_duty", "start": "yesterday"}, 422, "ISO 8601"),
        ({"status": "on_duty", "start": "2099-01-01T00:00:00Z"}, 422, "future"),
        (
            {"status": "on_duty", "start": "2026-01-06T06:00:00Z", "end": "2026-01-06T05:00:00Z"},
            422,
            "not after start",
        ),
        ({"status": "yard_move", "start": "2026-01-06T06:00:00Z"}, 422, "note"),
        ({"status": "on_duty", "start": "2026-01-05T00:00:00.400Z"}, 409, "PATCH"),
        ({"status": "on_duty", "start": "2026-01-06T06:00:00Z", "colour": 1}, 422, "colour"),
    ]
    for body, code, needle in cases:
        resp = client.post(url, json=body)
        assert resp.status_code == code, (body, resp.text)
        assert needle in resp.text, (body, resp.text)
    assert (
        client.post("/v1/drivers/nobody/duty-status", json={"status": "on_duty"}).status_code == 404
    )
    assert client.get("/v1/drivers/nobody/hos/clocks").status_code == 404
    assert client.patch(f"{url}/999999", json={"note": "edit it"}).status_code == 404
    hos = "/v1/drivers/jsmith/hos"
    assert client.get(f"{hos}/clocks", params={"at": "noon"}).status_code == 422
    assert client.get(f"{hos}/logs", params={"date": "2026-13-01"}).status_code == 422
    assert client.get(f"{hos}/logs").status_code == 422
    too_long = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    resp = client.get(f"{hos}/violations", params=too_long)
    assert resp.status_code == 422 and "31 days" in resp.text
    # nothing bad was stored
    assert len(client.get(url).json()["data"]) == 1
