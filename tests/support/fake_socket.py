"""A fake socket under a WebSocket session: what the kernel takes is under the test's
control, so partial sends, the queue, the byte allowance and closing mid-frame are exact;
and what a client makes of the bytes the session wrote."""

from __future__ import annotations

from typing import Any

import gevent
import gevent.event
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Ping, TextMessage

from channelstream import jsonenc
from channelstream.model.event import Event, EventBatch
from channelstream.realtime.websocket import WebSocketSession


class Kernel:
    """The OS socket under gevent's: takes what `room` allows, then would block."""

    def __init__(self) -> None:
        self.wire = bytearray()
        self.room: int | None = None  # None: takes everything

    def send(self, data: bytes) -> int:
        if self.room == 0:
            raise BlockingIOError
        taken = len(data) if self.room is None else min(self.room, len(data))
        if self.room is not None:
            self.room -= taken
        self.wire += bytes(data[:taken])
        return taken


class FakeSocket:
    """gevent's socket: `sendall` (the writer greenlet's) waits while the client reads
    nothing, and goes on when the test opens the gate."""

    def __init__(self) -> None:
        self._sock = Kernel()
        self.gate = gevent.event.Event()
        self.gate.set()
        self.shut = False
        self.closed = False

    def sendall(self, data: bytes | memoryview) -> None:
        self.gate.wait()
        self._sock.wire += bytes(data)

    def shutdown(self, how: int) -> None:
        self.shut = True

    def close(self) -> None:
        self.closed = True


def session(sock: Any, *, max_queued: int = 1_000_000, max_message: int = 1000) -> Any:
    return WebSocketSession(
        sock,
        conn_id="c1",
        max_message=max_message,
        max_queued=max_queued,
        clock=lambda: 100.0,
    )


def batch(*numbers: int, size: int = 0) -> EventBatch:
    return EventBatch([Event({"n": n, "pad": "x" * size}, channel="room") for n in numbers])


def frames(wire: bytes) -> list[Any]:
    """What a client makes of the bytes: text messages (decoded) and the close, in order;
    wsproto raises if a frame is cut or another lands inside it."""
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(bytes(wire))
    found: list[Any] = []
    for event in client.events():
        if isinstance(event, TextMessage):
            found.append(jsonenc.loads(event.data))
        elif isinstance(event, CloseConnection):
            found.append(("close", event.code, event.reason))
        elif isinstance(event, Ping):
            found.append("ping")
    return found


def drain() -> None:
    """Let the writer greenlet run until it has nothing left."""
    for _ in range(50):
        gevent.sleep(0)
