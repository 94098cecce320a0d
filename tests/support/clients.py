"""Real WebSocket and long-poll clients for end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
import websocket


class WSClient:
    """A WebSocket client that collects every message object it receives."""

    def __init__(self, ws_url: str, conn_id: str, resume: Any = None, timeout: float = 5) -> None:
        url = f"{ws_url}/ws?conn_id={conn_id}"
        if resume is not None:
            url += "&resume=" + quote(json.dumps(resume))
        self.ws = websocket.create_connection(url, timeout=timeout)
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


def listen(base_url: str, conn_id: str, timeout: float = 10, **params: Any) -> Any:
    query = {"conn_id": conn_id, **params}
    response = requests.get(base_url + "/listen", params=query, timeout=timeout)
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()
