"""Real WebSocket and long-poll clients for end-to-end tests."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import websocket


class WSClient:
    """A WebSocket client that collects every message object it receives."""

    def __init__(
        self,
        ws_url: str,
        conn_id: str,
        resume: Any = None,
        timeout: float = 5,
        source: str | None = None,
    ) -> None:
        """`source`: the local address to connect from (any of 127.0.0.0/8 on loopback),
        so that a test is another client address to the server."""
        url = f"{ws_url}/ws?conn_id={conn_id}"
        if resume is not None:
            url += "&resume=" + quote(json.dumps(resume))
        options: dict[str, Any] = {}
        if source is not None:
            options["socket"] = bound_socket(ws_url, source, timeout)
        self.ws = websocket.create_connection(url, timeout=timeout, **options)
        self.received: list[dict[str, Any]] = []
        self.frames = 0

    def read_frame(self, timeout: float = 5) -> list[dict[str, Any]] | None:
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return None
        items = json.loads(data)
        assert isinstance(items, list)
        self.frames += 1
        self.received.extend(items)
        return items

    def read_until(self, check: Callable[[], Any], timeout: float = 5, what: str = "") -> Any:
        """Read frames until `check()` is truthy; answer its value. Fails when the server
        closes, or when `timeout` passes (a read itself may raise websocket's timeout)."""
        deadline = time.monotonic() + timeout
        while not (value := check()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{what or check} did not arrive within {timeout}s: {self.received}"
                )
            if self.read_frame(left) is None:
                raise AssertionError(f"closed before {what or check} arrived: {self.received}")
        return value

    def messages(
        self, count: int, timeout: float = 5, type_: str | None = None
    ) -> list[dict[str, Any]]:
        """Wait until `count` objects (of a type, heartbeats aside) arrived; return them."""
        what = f"{count} objects" + (f" of type {type_}" if type_ else "")
        self.read_until(lambda: len(self._of(type_)) >= count, timeout, what)
        return self._of(type_)

    def _of(self, type_: str | None) -> list[dict[str, Any]]:
        return [m for m in self.received if type_ is None or m.get("type") == type_]

    def close_frame(self, timeout: float = 5) -> tuple[int, str]:
        """Read until the server's close frame; answer (code, reason)."""
        self.ws.settimeout(timeout)
        while True:
            frame = self.ws.recv_frame()
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                return code, data[2:].decode()
            if frame.opcode == websocket.ABNF.OPCODE_TEXT:
                self.received.extend(json.loads(frame.data))

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def bound_socket(url: str, source: str, timeout: float = 5) -> socket.socket:
    """A TCP socket from `source` to the URL's host and port, connected."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    return sock


def get_from(
    source: str, url: str, path: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    """GET `path` from the local address `source`: (status, headers, JSON body or None)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        kind = response.getheader("Content-Type", "")
        return (
            response.status,
            dict(response.getheaders()),
            json.loads(body) if "json" in kind else None,
        )
    finally:
        conn.close()


def listen(base_url: str, conn_id: str, timeout: float = 10, **params: Any) -> Any:
    query = {"conn_id": conn_id, **params}
    response = requests.get(base_url + "/listen", params=query, timeout=timeout)
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()
