"""Where the simulated GPS writes its NMEA: a pty it creates (like a USB receiver's
tty), a TCP server for pyserial's ``socket://host:port`` (any number of clients,
reconnects welcome), or an existing tty / regular file.

Writes never block the simulation: each destination keeps a bounded queue of whole
sentences and drops (and counts) what a slow or absent reader cannot take, the way a
real serial line loses data nobody reads.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import socket
import stat
import tty
from collections.abc import Callable, Sequence
from typing import Protocol

MAX_PENDING_BYTES = 64 * 1024


class NmeaSink(Protocol):
    endpoint: str

    def write(self, sentences: Sequence[str]) -> None: ...

    def counters(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class _Outbox:
    """Pending bytes for one non-blocking reader; only whole sentences are queued."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def offer(self, data: bytes) -> bool:
        if len(self.pending) + len(data) > MAX_PENDING_BYTES:
            return False
        self.pending += data
        return True

    def flush(self, send: Callable[[bytes], int]) -> None:
        """Write as much as the reader takes; ``send`` may raise OSError."""
        while self.pending:
            n = send(bytes(self.pending))
            if not n:
                return
            del self.pending[:n]


class _Counted:
    def __init__(self) -> None:
        self.sentences = 0
        self.dropped_no_reader = 0
        self.dropped_overflow = 0
        self.errors = 0

    def counters(self) -> dict[str, int]:
        return {
            "sentences": self.sentences,
            "dropped_no_reader": self.dropped_no_reader,
            "dropped_overflow": self.dropped_overflow,
            "errors": self.errors,
        }


def _set_nonblocking(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


class PtySink(_Counted):
    """A pseudo-terminal pair; readers open ``endpoint`` (the slave path) as a serial port.

    The simulator keeps only the master: while no one has the slave open the master
    reports a hang-up and fixes are dropped, so a reader never gets stale sentences.
    """

    def __init__(self) -> None:
        super().__init__()
        self._master, slave = os.openpty()
        self.endpoint = os.ttyname(slave)
        tty.setraw(slave)  # no echo, no CR/LF translation
        os.close(slave)
        _set_nonblocking(self._master)
        self._poll = select.poll()
        self._poll.register(self._master, select.POLLIN | select.POLLHUP)
        self._out = _Outbox()
        self._closed = False

    def _reader_present(self) -> bool:
        events = dict(self._poll.poll(0)).get(self._master, 0)
        if events & select.POLLIN:
            # Whatever the reader sends to the "receiver" (config commands) is ignored.
            with contextlib.suppress(OSError):
                os.read(self._master, 4096)
        return not events & select.POLLHUP

    def write(self, sentences: Sequence[str]) -> None:
        if self._closed:
            return
        if not self._reader_present():
            self.dropped_no_reader += len(sentences)
            self._out.pending.clear()
            return
        for s in sentences:
            if self._out.offer(s.encode("ascii")):
                self.sentences += 1
            else:
                self.dropped_overflow += 1
        try:
            self._out.flush(lambda b: os.write(self._master, b))
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EAGAIN):
                self.errors += 1
            self._out.pending.clear()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._master)


class TcpSink(_Counted):
    """A TCP server; every connected client gets every sentence (``socket://host:port``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.setblocking(False)
        bound_host, bound_port = self._server.getsockname()[:2]
        self.endpoint = f"socket://{bound_host}:{bound_port}"
        self._clients: dict[socket.socket, _Outbox] = {}
        self.connections = 0

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.errors += 1
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._clients[conn] = _Outbox()
            self.connections += 1

    def _drop(self, conn: socket.socket) -> None:
        self._clients.pop(conn, None)
        with contextlib.suppress(OSError):
            conn.close()

    def write(self, sentences: Sequence[str]) -> None:
        self._accept()
        if not self._clients:
            self.dropped_no_reader += len(sentences)
            return
        data = [s.encode("ascii") for s in sentences]
        delivered = 0  # sentences queued for at least one client
        for conn, box in list(self._clients.items()):
            try:
                # Drain (and ignore) what the client sends; b"" means it has gone.
                if conn.recv(4096) == b"":
                    self._drop(conn)
                    continue
            except BlockingIOError:
                pass
            except OSError:
                self._drop(conn)
                continue
            accepted = [box.offer(d) for d in data]
            delivered = max(delivered, accepted.count(True))
            self.dropped_overflow += accepted.count(False)
            try:
                box.flush(conn.send)
            except BlockingIOError:
                pass
            except OSError:
                self._drop(conn)
        self.sentences += delivered

    def counters(self) -> dict[str, int]:
        return {
            **super().counters(),
            "clients": len(self._clients),
            "connections": self.connections,
        }

    def close(self) -> None:
        for conn in list(self._clients):
            self._drop(conn)
        with contextlib.suppress(OSError):
            self._server.close()


class PathSink(_Counted):
    """An existing tty (opened raw, non-blocking) or a regular file (appended to)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.endpoint = path
        try:
            mode = os.stat(path).st_mode if os.path.exists(path) else 0
            self._is_tty = stat.S_ISCHR(mode)
            if self._is_tty:
                self._fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
                if os.isatty(self._fd):
                    tty.setraw(self._fd)
            else:
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise OSError(f"cannot open NMEA output {path!r}: {exc.strerror}") from exc
        self._out = _Outbox()
        self._closed = False

    def write(self, sentences: Sequence[str]) -> None:
        if self._closed:
            return
        for s in sentences:
            if self._out.offer(s.encode("ascii")):
                self.sentences += 1
            else:
                self.dropped_overflow += 1
        try:
            self._out.flush(lambda b: os.write(self._fd, b))
        except BlockingIOError:
            pass
        except OSError:
            self.errors += 1
            self._out.pending.clear()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


class NullSink(_Counted):
    """No GPS output (``--nmea none``)."""

    endpoint = ""

    def write(self, sentences: Sequence[str]) -> None:
        self.dropped_no_reader += len(sentences)

    def close(self) -> None:
        pass


def open_sink(spec: str) -> NmeaSink:
    """``pty`` | ``tcp://HOST:PORT`` (port 0 = any free one) | ``none`` | a path."""
    if spec == "pty":
        return PtySink()
    if spec == "none":
        return NullSink()
    if spec.startswith("tcp://"):
        hostport = spec[len("tcp://") :]
        host, sep, port = hostport.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"NMEA output {spec!r} must look like tcp://127.0.0.1:10110")
        return TcpSink(host or "127.0.0.1", int(port))
    if not spec:
        raise ValueError("empty NMEA output; use pty, tcp://HOST:PORT, none or a path")
    return PathSink(spec)
