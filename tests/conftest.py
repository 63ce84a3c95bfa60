"""Shared test fixtures: where the real data lives and whether the real services are up.

Tests talk to the real Mosquitto (127.0.0.1:1883) and PostgreSQL (127.0.0.1:5432).
When one is down, its tests skip with the reason; with FLEETWIRE_REQUIRE_SERVICES=1
(set by .ci/run) a missing service fails them instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
MQTT_HOST, MQTT_PORT = "127.0.0.1", int(os.environ.get("FLEETWIRE_TEST_MQTT_PORT", "1883"))
PG_URL = os.environ.get(
    "FLEETWIRE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def services_required() -> bool:
    return os.environ.get("FLEETWIRE_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) the calling test when a real service is not reachable."""
    if _reachable(host, port):
        return
    message = (
        f"{name} is not reachable on {host}:{port}; start it (see README.md, section 'Services') "
        "or run without it to use the embedded defaults"
    )
    if services_required():
        pytest.fail(message + " [FLEETWIRE_REQUIRE_SERVICES=1]")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real captures (NMEA, CAN, DBC) with SOURCES.md and ground_truth.json."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    """(host, port) of the real Mosquitto; skips or fails when it is down."""
    need_service("Mosquitto", MQTT_HOST, MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def unique_id() -> str:
    """A short id to keep topics, fleets, devices and client ids of one test apart."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def pg_url(unique_id: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    schema = f"fwtest_{unique_id}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateMosquitto:
    """A mosquitto process of the test's own, on a free port, that can be stopped and
    started again (for broker-outage tests). Persistence on, so sessions survive."""

    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "") -> None:
        import shutil

        if shutil.which("mosquitto") is None:
            message = "mosquitto binary not installed"
            if services_required():
                pytest.fail(message)
            pytest.skip(message)
        self.port = port or free_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {workdir}/\n"
            f"max_queued_messages 0\n{extra_conf}"
            # as root, mosquitto would drop to its own user and could not write here
            + ("user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else "")
        )
        self.proc: object | None = None

    def start(self) -> None:
        import subprocess
        import time

        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "mosquitto.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"private mosquitto did not start on {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        import subprocess

        proc = self.proc
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """Not started yet: call .start() / .stop() as the test needs."""
    broker = PrivateMosquitto(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()
