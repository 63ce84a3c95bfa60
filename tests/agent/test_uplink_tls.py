"""The uplink against a broker that wants TLS and a password (its own mosquitto on a free
port, with a throw-away CA made by openssl): records arrive over mqtts://, and refused
credentials lose nothing and say why."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agent.model import LANE_ELD
from agent.outbox import OutboxReader, OutboxWriter
from agent.uplink import Uplink
from tests.conftest import PrivateMosquitto, services_required
from wire import decode_batch


def _tools() -> None:
    missing = [t for t in ("openssl", "mosquitto_passwd") if shutil.which(t) is None]
    if missing:
        if services_required():
            pytest.fail(f"missing {missing}")
        pytest.skip(f"needs {missing}")


def _certs(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(args, cwd=d, check=True, capture_output=True)

    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=fleetwire test CA",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    )
    run("mosquitto_passwd", "-b", "-c", "passwd", "truck-1", "s3cret")
    run("mosquitto_passwd", "-b", "passwd", "cloud", "cl0ud")
    for name in ("server.key", "passwd"):
        (d / name).chmod(0o644)


@pytest.fixture
def tls_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    _tools()
    _certs(tmp_path)
    broker = PrivateMosquitto(
        tmp_path,
        extra_conf=(
            f"cafile {tmp_path / 'ca.crt'}\ncertfile {tmp_path / 'server.crt'}\n"
            f"keyfile {tmp_path / 'server.key'}\npassword_file {tmp_path / 'passwd'}\n"
        ),
    )
    broker.conf.write_text(
        broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
    )
    broker.start()
    yield broker
    broker.stop()


def _outbox(path: Path, n: int) -> None:
    out = OutboxWriter(path)
    for i in range(n):
        out.append("event", 1_700_000_000_000 + i, {"name": "duty_status", "i": i}, LANE_ELD)
    out.close()


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return bool(predicate())


def test_records_arrive_over_tls_with_a_password(
    tmp_path: Path, tls_broker: PrivateMosquitto
) -> None:
    _outbox(tmp_path / "o.db", 40)
    got: list[int] = []
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    sub.username_pw_set("cloud", "cl0ud")
    sub.tls_set(ca_certs=str(tmp_path / "ca.crt"))
    sub.on_message = lambda c, u, m: got.extend(r.seq for r in decode_batch(m.payload).records)
    sub.connect("127.0.0.1", tls_broker.port)
    sub.subscribe("fw/v1/acme/+/up", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    uplink = Uplink(
        lambda: OutboxReader(tmp_path / "o.db"),
        "acme",
        "truck-1",
        f"mqtts://truck-1:s3cret@127.0.0.1:{tls_broker.port}",
        tls_ca=str(tmp_path / "ca.crt"),
        batch_max_age_s=0.1,
    )
    uplink.start()
    try:
        reader = OutboxReader(tmp_path / "o.db")
        assert _wait(lambda: reader.stats()["unsent"] == 0)
        assert _wait(lambda: sorted(set(got)) == list(range(1, 41)))
        reader.close()
    finally:
        uplink.stop()
        sub.loop_stop()


def test_refused_credentials_lose_nothing_and_say_why(
    tmp_path: Path, tls_broker: PrivateMosquitto
) -> None:
    _outbox(tmp_path / "o.db", 5)
    uplink = Uplink(
        lambda: OutboxReader(tmp_path / "o.db"),
        "acme",
        "truck-1",
        f"mqtts://truck-1:wrong@127.0.0.1:{tls_broker.port}",
        tls_ca=str(tmp_path / "ca.crt"),
        batch_max_age_s=0.1,
    )
    uplink.start()
    try:
        assert _wait(
            lambda: "refused" in uplink.last_error or "authori" in uplink.last_error.lower()
        )
        reader = OutboxReader(tmp_path / "o.db")
        assert reader.stats()["unsent"] == 5
        reader.close()
    finally:
        uplink.stop()
