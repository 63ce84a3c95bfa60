"""``fleetwire-cloud``: help text, migrate, one-line errors, and ``run`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cloud.cli import build_parser, main
from cloud.db.engine import create_engine
from cloud.db.migrate import current_revision
from tests.cloud.factories import batches, drive, payload, up
from tests.cloud.mqtt_helpers import Publisher, wait_until
from tests.cloud.test_broker import free_port

COMMANDS = ["serve", "ingest", "run", "migrate", "openapi", "hos"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_teaching_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert f"fleetwire-cloud {command}" in out


def test_top_level_help_lists_commands() -> None:
    text = build_parser().format_help()
    assert all(c in text for c in COMMANDS)
    assert "FLEETWIRE_DATABASE_URL" in text


def test_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'cloud.db'}"
    assert main(["--database-url", url, "migrate"]) == 0
    assert "revision head" in capsys.readouterr().out
    eng = create_engine(url)
    try:
        assert current_revision(eng) is not None
    finally:
        eng.dispose()


def test_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--database-url", "postgresql://nobody@127.0.0.1:9/none", "migrate"])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.startswith("fleetwire-cloud migrate: cannot open database")
    assert len(err.splitlines()) == 1


def test_bad_setting_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "LOUD", "migrate"]) == 2
    assert "log_level" in capsys.readouterr().err


def test_ingest_without_broker_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLEETWIRE_MQTT_URL", raising=False)
    rc = main(["--database-url", f"sqlite:///{tmp_path / 'c.db'}", "ingest"])
    assert rc == 1
    assert "FLEETWIRE_MQTT_URL" in capsys.readouterr().err


def test_run_all_in_one_with_embedded_broker(tmp_path: Path) -> None:
    api_port, mqtt_port = free_port(), free_port()
    env = os.environ | {
        "FLEETWIRE_DATABASE_URL": f"sqlite:///{tmp_path / 'cloud.db'}",
        "FLEETWIRE_MQTT_URL": "",
        "FLEETWIRE_DEFAULT_FLEET": "demo",
        "FLEETWIRE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloud.cli",
            "run",
            "--port",
            str(api_port),
            "--broker-port",
            str(mqtt_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{api_port}" in banner, banner + proc.stderr.read()
        assert "(embedded)" in banner
        recs = drive(seconds_per_trip=10)
        pub = Publisher("127.0.0.1", mqtt_port, "agent-demo")
        try:
            for b in batches(recs, "van-1", size=20):
                pub.publish(up("demo", "van-1"), payload(b))
        finally:
            pub.close()

        def vehicles() -> list:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/v1/vehicles") as r:
                    return json.load(r)["data"]
            except OSError:
                return []

        assert wait_until(lambda: len(vehicles()) == 1)
        url = f"http://127.0.0.1:{api_port}/v1/vehicles/van-1/gaps"
        assert wait_until(
            lambda: json.load(urllib.request.urlopen(url))["boots"][0]["received"] == len(recs)
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz") as r:
            assert json.load(r)["consumer_connected"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0


def test_hos_evaluate_passes_the_file_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = {
        "ruleset": "us_property_70_8",
        "exceptions": [],
        "home_terminal_tz": "UTC",
        "evaluate_at": "2026-01-06T20:00:00Z",
        "events": [
            {"start": "2026-01-05T00:00:00Z", "status": "off_duty"},
            {"start": "2026-01-06T06:00:00Z", "status": "on_duty"},
            {"start": "2026-01-06T07:00:00Z", "status": "driving"},
            {"start": "2026-01-06T19:00:00Z", "status": "off_duty", "end": "2026-01-06T20:00:00Z"},
        ],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    assert main(["hos", "evaluate", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {v["rule"] for v in result["violations"]} >= {"driving_11"}
    assert main(["hos", "evaluate", str(tmp_path / "missing.json")]) != 0


@pytest.mark.mosquitto
def test_ingest_command_against_mosquitto(
    tmp_path: Path, mqtt_broker: tuple[str, int], unique_id: str
) -> None:
    from tests.cloud.mqtt_helpers import forget_session, stored

    host, port = mqtt_broker
    fleet, client_id = f"f{unique_id}", f"fwtest-cli-ingest-{unique_id}"
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    env = os.environ | {
        "FLEETWIRE_DATABASE_URL": url,
        "FLEETWIRE_MQTT_URL": f"mqtt://{host}:{port}",
        "FLEETWIRE_INGEST_CLIENT_ID": client_id,
        "FLEETWIRE_INGEST_FLEET": fleet,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    recs = drive(seconds_per_trip=10)
    eng = create_engine(url)
    try:
        # A fresh client id has no session yet: publish once the process has subscribed.
        seen: list[str] = []

        def subscribed() -> bool:
            seen.append(proc.stderr.readline() if proc.stderr else "")
            return any("event=mqtt_subscribed" in line for line in seen)

        assert wait_until(subscribed), "ingest did not subscribe: " + "".join(seen)
        assert current_revision(eng) is not None  # migrated on start
        pub = Publisher(host, port, f"fwtest-pub-{unique_id}")
        try:
            for b in batches(recs, "truck", size=20):
                pub.publish(up(fleet, "truck"), payload(b))
        finally:
            pub.close()
        assert wait_until(lambda: stored(eng, fleet) == len(recs))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        eng.dispose()
        forget_session(host, port, client_id)
    assert rc == 0
