"""Shared pieces of the end-to-end suite: unique names, polling, raw sockets and frames."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import websocket

from tests.support.clients import WSClient
from tests.support.server import ServerProcess

CORS_METHODS = "GET, POST, OPTIONS, PUT, DELETE, PATCH"


def name(prefix: str) -> str:
    """A name no other test uses (servers are shared per module)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def of_type(items: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [item for item in items if item.get("type") == type_]


def texts(items: list[dict[str, Any]]) -> list[Any]:
    """The `message.text` of each item of type message."""
    return [item["message"].get("text") for item in of_type(items, "message")]


def wait_for_text(client: WSClient, text: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Read until a message whose `message.text` is `text` arrived; answer all received."""
    client.read_until(lambda: text in texts(client.received), timeout, what=repr(text))
    return client.received


def before_text(client: WSClient, text: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Everything received before the sentinel message `text` (which must arrive)."""
    received = wait_for_text(client, text, timeout)
    index = next(
        i
        for i, item in enumerate(received)
        if item.get("type") == "message" and item["message"].get("text") == text
    )
    return received[:index]


def open_ws(
    server: ServerProcess,
    conn_id: str,
    resume: Any = None,
    prefix: str = "",
    rcvbuf: int | None = None,
) -> WSClient:
    if rcvbuf is None:
        return WSClient(server.ws_url + prefix, conn_id, resume=resume)
    # A reading client with a small receive buffer: the server's kernel buffers stay small.
    client = WSClient.__new__(WSClient)
    client.ws = websocket.create_connection(
        f"{server.ws_url}{prefix}/ws?conn_id={conn_id}",
        timeout=5,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf),),
    )
    client.received = []
    client.frames = 0
    return client


@contextmanager
def clients(*items: WSClient) -> Iterator[tuple[WSClient, ...]]:
    try:
        yield items
    finally:
        for item in items:
            item.close()


def close_cleanly(client: WSClient, timeout: float = 5) -> tuple[int, str]:
    """Close from the client side, keeping every message the server sent before it saw our
    close frame (websocket-client's own close() would drop them)."""
    client.ws.send_close()
    try:
        return client.close_frame(timeout)
    finally:
        client.ws.shutdown()


def ws_status(url: str) -> int:
    """The HTTP status a refused WebSocket handshake got (fails if it was accepted)."""
    try:
        conn = websocket.create_connection(url, timeout=5)
    except websocket.WebSocketBadStatusException as exc:
        return int(exc.status_code)
    conn.close()
    raise AssertionError(f"{url} was upgraded")


# -- raw sockets -------------------------------------------------------------------------
def ws_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def raw_request(port: int, request: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes; answer everything the server sent until it closed or went quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        sock.settimeout(timeout)
        try:
            while b"\r\n\r\n" not in data or not _complete(data):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        return data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> Any:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def handshake(port: int, path: str, key: str | None = None, rcvbuf: int | None = None) -> Any:
    """Open a socket and do a WebSocket handshake by hand; answer (socket, response head)."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key or ws_key()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return sock, head


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client-to-server frame (fin set), for raw sockets."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack("!H", length)
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack("!Q", length)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return header + mask + masked


class FrameReader:
    """Server-to-client WebSocket frames (never masked) from a raw socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _need(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError(f"socket ended with {len(self.buffer)} of {size} bytes")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def frame(self) -> tuple[int, bytes]:
        first, second = self._need(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._need(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._need(8))
        return first & 0x0F, self._need(length)

    def until_close(self) -> tuple[int, list[Any]]:
        """Read frames until a close frame; answer (close code, text payloads seen)."""
        seen: list[Any] = []
        while True:
            opcode, payload = self.frame()
            if opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                return code, seen
            if opcode == 0x1:
                seen.append(json.loads(payload))
