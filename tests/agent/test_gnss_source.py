"""GnssSource against real serial transports: a pty pair and pyserial ``socket://``.

A writer thread plays the receiver: RMC + GGA at 10 Hz stamped with the current UTC
time. The device is pulled away (pty closed, TCP connection dropped) and goes silent
mid-stream; the source must notice, report it in ``health()`` and recover on its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import queue
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.decode.nmea_framer import nmea_checksum
from agent.model import Position
from agent.sources.gnss import GnssSource

FAST = {
    "stall_timeout_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "read_timeout_s": 0.05,
    "epoch_idle_s": 0.2,
}


def epoch_bytes(now: dt.datetime | None = None) -> bytes:
    now = now or dt.datetime.now(dt.UTC)
    tod = now.strftime("%H%M%S.") + f"{now.microsecond // 10000:02d}"
    date = now.strftime("%d%m%y")
    bodies = [
        f"GPRMC,{tod},A,4739.71755,N,12219.58177,W,0.10,286.35,{date},,,A",
        f"GPGGA,{tod},4739.71755,N,12219.58177,W,1,09,0.8,77.5,M,-21.6,M,,",
    ]
    return b"".join(f"${b}*{nmea_checksum(b.encode()):02X}\r\n".encode() for b in bodies)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


class Collector:
    def __init__(self) -> None:
        self.q: queue.Queue[Position] = queue.Queue()
        self.fixes: list[Position] = []

    def __call__(self, obs: Any) -> None:
        self.q.put(obs)

    def count(self) -> int:
        while not self.q.empty():
            self.fixes.append(self.q.get_nowait())
        return len(self.fixes)

    def since(self, t_ms: int) -> list[Position]:
        self.count()
        return [f for f in self.fixes if f.time_ms > t_ms]


class PtyReceiver:
    """A fake receiver on a pty whose slave is reached through a symlink."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = self.slave = -1
        self.running = threading.Event()
        self.running.set()
        self._alive = True
        self._lock = threading.Lock()
        self.open_new()
        self._thread = threading.Thread(target=self._write_loop, daemon=True)
        self._thread.start()

    def open_new(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass unchanged
        flags = fcntl.fcntl(master, fcntl.F_GETFL)
        fcntl.fcntl(master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        tmp = self.link.with_suffix(".new")
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)  # re-point the path the source opens
        with self._lock:
            self.master, self.slave = master, slave

    def unplug(self) -> None:
        with self._lock:
            os.close(self.master)
            os.close(self.slave)
            self.master = self.slave = -1

    def _write_loop(self) -> None:
        while self._alive:
            if self.running.is_set():
                with self._lock:
                    if self.master >= 0:
                        # Nobody reading yet fills the pty buffer: drop, like a UART.
                        with contextlib.suppress(OSError):
                            os.write(self.master, epoch_bytes())
            time.sleep(0.1)

    def close(self) -> None:
        self._alive = False
        self._thread.join(2)
        if self.master >= 0:
            self.unplug()


@pytest.fixture
def pty_receiver(tmp_path: Path) -> Iterator[PtyReceiver]:
    receiver = PtyReceiver(tmp_path / "gps0")
    yield receiver
    receiver.close()


def test_pty_unplugged_and_replugged_recovers_without_restart(pty_receiver: PtyReceiver) -> None:
    got = Collector()
    source = GnssSource(str(pty_receiver.link), **FAST)
    source.start(got)
    try:
        wait_for(lambda: got.count() >= 5, what="first fixes")
        assert source.health()["connected"] is True
        first = got.fixes[0]
        assert first.data["valid"] and first.data["lat"] == pytest.approx(47.6619592)
        # Wall clock and fix time agree: the fix was stamped from the receiver's UTC.
        assert abs(first.time_ms - time.time() * 1000) < 30_000

        pty_receiver.unplug()
        wait_for(lambda: source.health()["connected"] is False, what="disconnect noticed")
        health = source.health()
        assert health["last_error"]
        cut_ms = int(time.time() * 1000)
        pty_receiver.open_new()
        wait_for(lambda: len(got.since(cut_ms)) >= 5, what="fixes after replug")
        health = source.health()
        assert health["connected"] is True
        assert health["reconnects"] >= 1
        assert health["fixes"] >= len(got.fixes)
        assert health["gnss_time"]["utc_ms"] >= cut_ms
        assert health["gnss_time"]["age_s"] >= 0.0
        assert all(f.data["valid"] for f in got.since(cut_ms))
    finally:
        source.stop()
    assert source.health()["connected"] is False


def test_stall_is_reported_and_fixes_resume(pty_receiver: PtyReceiver) -> None:
    got = Collector()
    source = GnssSource(str(pty_receiver.link), **FAST)
    source.start(got)
    try:
        wait_for(lambda: got.count() >= 3, what="first fixes")
        assert source.health()["stalled"] is False
        pty_receiver.running.clear()  # the receiver goes silent, the port stays
        wait_for(lambda: source.health()["stalled"] is True, what="stall reported")
        assert "no data" in source.health()["last_error"]
        pause_ms = int(time.time() * 1000)
        pty_receiver.running.set()
        wait_for(lambda: len(got.since(pause_ms)) >= 3, what="fixes after the stall")
        assert source.health()["stalled"] is False
    finally:
        source.stop()


def test_missing_device_is_retried_until_it_appears(tmp_path: Path) -> None:
    link = tmp_path / "gps-later"
    got = Collector()
    source = GnssSource(str(link), **FAST)
    source.start(got)
    receiver: PtyReceiver | None = None
    try:
        wait_for(lambda: source.health()["last_error"] is not None, what="open failure")
        health = source.health()
        assert health["connected"] is False
        assert "cannot open" in health["last_error"]
        receiver = PtyReceiver(link)
        wait_for(lambda: got.count() >= 3, what="fixes once the device exists")
    finally:
        source.stop()
        if receiver is not None:
            receiver.close()


class TcpReceiver:
    """A TCP server that sends ``epochs_per_connection`` epochs, then hangs up."""

    def __init__(self, epochs_per_connection: int) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.epochs = epochs_per_connection
        self.connections = 0
        self._alive = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._alive:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                # A banner and binary noise first, like a module that just booted.
                conn.sendall(b"Booting GNSS module v1.2\r\n\xb5\x62\x01\x07\x00\x24\x00")
                for _ in range(self.epochs):
                    if not self._alive:
                        return
                    try:
                        conn.sendall(epoch_bytes())
                    except OSError:
                        break
                    time.sleep(0.1)

    def close(self) -> None:
        self._alive = False
        self._thread.join(2)
        self.server.close()


def test_socket_url_survives_dropped_connections() -> None:
    server = TcpReceiver(epochs_per_connection=6)
    calls = {"n": 0}
    got = Collector()

    def emit(obs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("pipeline hiccup")  # must be counted, not kill the reader
        got(obs)

    source = GnssSource(f"socket://127.0.0.1:{server.port}", **FAST)
    source.start(emit)
    try:
        wait_for(lambda: server.connections >= 3 and got.count() >= 12, what="three sessions")
        health = source.health()
        assert health["reconnects"] >= 2
        assert health["emit_errors"] == 1
        assert health["rejects"] == {}  # the banner and the binary bytes are not sentences
        assert health["sentences"] >= 2 * health["valid_fixes"] >= 24
    finally:
        source.stop()
        server.close()
