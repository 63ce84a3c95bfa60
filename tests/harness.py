"""Helpers for tests that run the real processes: agent, cloud ingest, simulator.

Nothing here stands in for a part: processes are started from the installed console
scripts, talk to real brokers and databases, and are stopped (or killed) with signals.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CAN_GROUP = "239.74.163.2"


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def outbox_rows(path: Path) -> list[dict[str, Any]]:
    """Every record in an agent outbox (run the agent with keep_sent_s to keep sent ones)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=10)
    try:
        rows = conn.execute(
            "SELECT boot_id, seq, kind, lane, time_ms, data, sent_ms FROM records ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()
    return [
        {
            "boot_id": r[0],
            "seq": r[1],
            "kind": r[2],
            "lane": r[3],
            "time_ms": r[4],
            "data": json.loads(r[5]),
            "sent": r[6] is not None,
        }
        for r in rows
    ]


def cloud_records(db_url: str, fleet: str, device: str) -> list[tuple[int, int, str, int]]:
    """(boot_id, seq, kind, time_ms) of every record the cloud stored for one device."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT boot_id, seq, kind, time_ms FROM records "
                    "WHERE fleet_id = :f AND device_id = :d"
                ),
                {"f": fleet, "d": device},
            ).fetchall()
    except sa.exc.OperationalError:
        return []
    except sa.exc.ProgrammingError:
        return []
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def write_agent_config(
    path: Path,
    *,
    device: str,
    fleet: str,
    nmea: str,
    can_port: int,
    outbox: Path,
    mqtt_url: str = "mqtt://127.0.0.1:1883",
    outbox_max_mb: float = 256.0,
    extra: str = "",
) -> Path:
    path.write_text(
        f'[device]\nid = "{device}"\nfleet = "{fleet}"\n'
        f'[gnss]\nurl = "{nmea}"\nstall_timeout_s = 3.0\n'
        # record every 1 Hz fix, so comparisons cover the whole drive
        "[gnss.sampling.moving]\nmax_period_s = 1.0\n"
        "[gnss.sampling.stopped]\nmin_period_s = 1.0\nmax_period_s = 1.0\n"
        f'[can]\ninterface = "udp_multicast"\nchannel = "{CAN_GROUP}"\n'
        f"[can.options]\nport = {can_port}\n"
        f'[outbox]\npath = "{outbox}"\ncommit_window_ms = 200\nkeep_sent_s = 86400\n'
        f"max_mb = {outbox_max_mb}\n"
        f'[uplink]\nmqtt_url = "{mqtt_url}"\nbatch_max_age_s = 0.5\nbatch_max_records = 100\n'
        f"{extra}"
    )
    return path


def forget_session(mqtt_url: str, client_id: str) -> None:
    """Delete a persistent MQTT session (connect with a clean session, disconnect)."""
    from urllib.parse import urlparse

    import paho.mqtt.client as mqtt

    url = urlparse(mqtt_url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
    )
    try:
        client.connect(url.hostname or "127.0.0.1", url.port or 1883, 10)
        client.loop_start()
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass  # broker already gone (a private one): nothing left behind


class Processes:
    """Processes of one test; all are stopped (TERM, then KILL) at the end."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.sessions: set[tuple[str, str]] = set()

    def start(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(self.logdir / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def agent(self, config: Path) -> subprocess.Popen[bytes]:
        return self.start("agent", [str(BIN / "fleetwire-agent"), "run", "--config", str(config)])

    def ingest(
        self, db_url: str, mqtt_url: str, client_id: str, fleet: str = "+"
    ) -> subprocess.Popen[bytes]:
        """A `fleetwire-cloud ingest` process for one fleet; its persistent broker session
        is deleted at stop_all(), so no test leaves a subscriber behind in a shared broker."""
        env = dict(os.environ)
        env.update(
            FLEETWIRE_DATABASE_URL=db_url,
            FLEETWIRE_MQTT_URL=mqtt_url,
            FLEETWIRE_INGEST_CLIENT_ID=client_id,
            FLEETWIRE_INGEST_FLEET=fleet,
        )
        self.sessions.add((mqtt_url, client_id))
        return self.start("ingest", [str(BIN / "fleetwire-cloud"), "ingest"], env)

    def signal(self, name: str, sig: int, wait: float = 20.0) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(wait)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(list(self.procs.values())):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for url, client_id in self.sessions:
            forget_session(url, client_id)
        self.sessions.clear()

    def dump_logs(self) -> None:
        for log in sorted(self.logdir.glob("*.log")):
            sys.stderr.write(
                f"--- {log.name} (tail) ---\n{log.read_text(errors='replace')[-2000:]}\n"
            )
