"""What the hardening tests share: a look into the server process (/proc), raw requests
that misbehave, and a probe that measures how promptly another client is served."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.support.server import ServerProcess


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    """The process's resident memory now (VmRSS), in KiB."""
    status = open(f"/proc/{pid}/status").read()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert found is not None, status
    return int(found.group(1))


def nested(levels: int, leaf: Any = 1) -> dict[str, Any]:
    """An object `levels` deep: {"a": {"a": ... leaf}} (the outer object is level 1)."""
    value: Any = leaf
    for _ in range(levels):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


def connected(server: ServerProcess, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket, timeout: float = 5) -> bytes:
    """Everything the server sends until it closes, or the head and body of one answer."""
    sock.settimeout(timeout)
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                return data
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return data
        if not chunk:
            return data
        data += chunk


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server ends the connection (EOF or reset) within `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


class LatencyProbe:
    """Another client: asks /health over and over on its own keep-alive connection and
    keeps the slowest answer's time."""

    def __init__(self, server: ServerProcess) -> None:
        self.url = server.url + "/health"
        self.slowest = 0.0
        self.answers = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = session.get(self.url, timeout=30).status_code
            except requests.RequestException as exc:
                self.errors.append(repr(exc))
                session = requests.Session()
                continue
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.answers += 1
            if status != 200:
                self.errors.append(f"status {status}")
            self._stop.wait(0.005)

    @contextmanager
    def running(self) -> Iterator[LatencyProbe]:
        self._thread.start()
        # It is answering before the measured call starts.
        deadline = time.monotonic() + 5
        while self.answers < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.slowest = 0.0
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(30)
