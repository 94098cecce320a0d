"""One WebSocket session against a fake socket: what the kernel takes is under the test's
control, so partial sends, the queue, the byte allowance and closing mid-frame are exact.
Reading runs over a real socket pair (the session watches a file descriptor)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import gevent.socket
import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Ping, Pong, TextMessage

from channelstream import jsonenc
from channelstream.limits.node import FrameRate
from channelstream.limits.refusals import Refusals
from channelstream.model.event import Event, EventBatch
from channelstream.realtime.websocket import (
    CLOSE_PING_TIMEOUT,
    CLOSE_POLICY,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_BIG,
    WebSocketSession,
)


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


# -- writing -------------------------------------------------------------------------------
def test_a_frame_the_kernel_takes_is_sent_at_once_without_a_writer() -> None:
    sock = FakeSocket()
    ws = session(sock)
    ws.send_batch(batch(1, 2))
    assert frames(sock._sock.wire) == [[{"n": 1, "pad": ""}, {"n": 2, "pad": ""}]]
    assert ws._writer is None


def test_the_rest_of_a_partial_send_is_queued_and_later_events_follow_in_order() -> None:
    sock = FakeSocket()
    sock._sock.room = 5  # the kernel takes five bytes of the first frame
    sock.gate.clear()
    ws = session(sock)
    ws.send_batch(batch(1))
    assert len(sock._sock.wire) == 5 and ws._writer is not None
    ws.send_batch(batch(2))
    ws.send_batch(batch(3))  # queued behind: joined into one frame by the writer
    sock.gate.set()
    drain()
    assert frames(sock._sock.wire) == [
        [{"n": 1, "pad": ""}],
        [{"n": 2, "pad": ""}, {"n": 3, "pad": ""}],
    ]
    assert ws._writer is None and ws._queued == 0 and not ws.closed


def test_queued_bytes_past_the_allowance_close_the_slow_consumer() -> None:
    sock = FakeSocket()
    sock._sock.room = 0  # the client reads nothing
    sock.gate.clear()
    ws = session(sock, max_queued=300)
    ws.send_batch(batch(1, size=100))
    ws.send_batch(batch(2, size=100))
    assert not ws.closed
    ws.send_batch(batch(3, size=100))  # past 300 bytes queued
    assert ws.closed
    ws.send_batch(batch(4))  # after the close: nothing more is taken
    sock.gate.set()
    drain()
    assert frames(sock._sock.wire) == [("close", CLOSE_SLOW_CONSUMER, "slow consumer")]
    assert sock.shut


def test_catch_up_may_exceed_the_allowance() -> None:
    sock = FakeSocket()
    sock._sock.room = 0
    sock.gate.clear()
    ws = session(sock, max_queued=300)
    bodies = [jsonenc.dumps({"n": n, "pad": "x" * 200}) for n in range(10)]
    ws.send_bodies(bodies)  # about 2 KiB, far over 300 bytes
    assert not ws.closed
    sock.gate.set()
    drain()
    (replay,) = frames(sock._sock.wire)
    assert [item["n"] for item in replay] == list(range(10))
    # Once it went out, the allowance is the live one again.
    sock.gate.clear()
    sock._sock.room = 0
    ws.send_batch(batch(11, size=400))
    assert ws.closed


def test_a_close_after_a_half_sent_frame_finishes_that_frame_first() -> None:
    sock = FakeSocket()
    ws = session(sock)
    big = batch(1, size=1000)
    sock._sock.room = 300  # the kernel takes part of the frame
    sock.gate.clear()
    ws.send_batch(big)
    ws.send_batch(batch(2))  # queued: dropped by the close
    ws.close(1001, "server shutting down")
    sock.gate.set()
    drain()
    assert frames(sock._sock.wire) == [
        [{"n": 1, "pad": "x" * 1000}],
        ("close", 1001, "server shutting down"),
    ]


def test_heartbeats_ping_a_quiet_client_and_close_a_silent_one() -> None:
    sock = FakeSocket()
    ws = session(sock)
    assert ws.heartbeat(now=105.0, ping_timeout=30) is True
    assert frames(sock._sock.wire) == [[]]
    assert ws.heartbeat(now=120.0, ping_timeout=30) is True  # quiet for over half of it
    assert frames(sock._sock.wire) == [[], [], "ping"]
    assert ws.heartbeat(now=131.0, ping_timeout=30) is False
    drain()
    assert frames(sock._sock.wire)[-1] == ("close", CLOSE_PING_TIMEOUT, "ping timeout")
    assert ws.heartbeat(now=132.0, ping_timeout=30) is False


def test_a_write_to_a_dead_socket_ends_the_session() -> None:
    sock = FakeSocket()

    def refuse(data: bytes) -> int:
        raise BrokenPipeError

    ws = session(sock)
    ws._send_now = refuse
    ws.send_batch(batch(1))
    assert ws.closed and sock.shut


# -- reading (a real socket pair) ----------------------------------------------------------
@pytest.fixture
def pair() -> Iterator[tuple[Any, Any]]:
    server, client = gevent.socket.socketpair()
    yield server, client
    server.close()
    client.close()


def read_frames(client: Any, count: int) -> list[Any]:
    conn = Connection(ConnectionType.CLIENT)
    found: list[Any] = []
    with gevent.Timeout(5):
        while len(found) < count:
            conn.receive_data(client.recv(65536))
            for event in conn.events():
                if isinstance(event, Pong):
                    found.append("pong")
                elif isinstance(event, CloseConnection):
                    found.append(("close", event.code))
                elif isinstance(event, TextMessage):
                    found.append(jsonenc.loads(event.data))
    return found


def test_the_session_answers_pings_and_refuses_messages_over_the_limit(
    pair: tuple[Any, Any],
) -> None:
    server, client = pair
    ended = gevent.event.Event()
    ws = session(server, max_message=100)
    ws.start(on_end=ended.set)
    speaker = Connection(ConnectionType.CLIENT)
    client.sendall(speaker.send(Ping(b"hi")))
    assert read_frames(client, 1) == ["pong"]
    client.sendall(speaker.send(TextMessage("x" * 50)))  # fine: within the limit
    client.sendall(speaker.send(TextMessage("y" * 500)))
    assert read_frames(client, 1) == [("close", CLOSE_TOO_BIG)]


def test_a_client_close_ends_the_session_and_runs_on_end(pair: tuple[Any, Any]) -> None:
    server, client = pair
    ended = gevent.event.Event()
    ws = session(server)
    ws.start(on_end=ended.set)
    speaker = Connection(ConnectionType.CLIENT)
    client.sendall(speaker.send(CloseConnection(code=1000, reason="bye")))
    assert read_frames(client, 1) == [("close", 1000)]
    assert ended.wait(5) and ws.closed


def test_a_client_past_its_frame_rate_is_closed_with_1008(pair: tuple[Any, Any]) -> None:
    server, client = pair
    refusals = Refusals()
    ws = WebSocketSession(
        server,
        conn_id="c1",
        max_message=1000,
        max_queued=1_000_000,
        clock=lambda: 100.0,  # no time passes: the burst is all there is
        frame_rate=FrameRate(1, 3, refusals),
    )
    assert ws.frame_bucket is None  # nothing until the client says something
    ws.start(on_end=lambda: None)
    speaker = Connection(ConnectionType.CLIENT)
    client.sendall(speaker.send(Ping(b"1")))  # pings count too
    assert read_frames(client, 1) == ["pong"]
    client.sendall(speaker.send(TextMessage("a")) + speaker.send(TextMessage("b")))
    client.sendall(speaker.send(Ping(b"4")))
    reader = Connection(ConnectionType.CLIENT)
    with gevent.Timeout(5):
        reader.receive_data(client.recv(65536))
    (close,) = list(reader.events())
    assert isinstance(close, CloseConnection)
    assert (close.code, close.reason) == (CLOSE_POLICY, "too many messages")
    assert refusals.counts["client_messages_per_second"] == 1


# -- how sessions end, counted once by close code ------------------------------------------
def counted(sock: Any, closes: dict[int, int], **kw: Any) -> Any:
    return WebSocketSession(
        sock, conn_id="c1", max_message=1000, clock=lambda: 100.0, closes=closes, **kw
    )


def test_a_slow_consumer_is_counted_once_under_4008() -> None:
    closes: dict[int, int] = {}
    sock = FakeSocket()
    sock._sock.room = 0
    sock.gate.clear()
    ws = counted(sock, closes, max_queued=150)
    ws.send_batch(batch(1, size=100))
    ws.send_batch(batch(2, size=100))
    ws.close(1000, "again")  # already closed: not counted twice
    assert closes == {CLOSE_SLOW_CONSUMER: 1}


def test_a_dead_socket_counts_as_1006() -> None:
    closes: dict[int, int] = {}
    sock = FakeSocket()

    def refuse(data: bytes) -> int:
        raise BrokenPipeError

    ws = counted(sock, closes, max_queued=1000)
    ws._send_now = refuse
    ws.send_batch(batch(1))
    assert closes == {1006: 1}


def test_a_client_close_is_counted_under_its_code(pair: tuple[Any, Any]) -> None:
    server, client = pair
    closes: dict[int, int] = {}
    ended = gevent.event.Event()
    ws = counted(server, closes, max_queued=1000)
    ws.start(on_end=ended.set)
    speaker = Connection(ConnectionType.CLIENT)
    client.sendall(speaker.send(CloseConnection(code=4001, reason="app")))
    assert read_frames(client, 1) == [("close", 4001)]
    assert ended.wait(5)
    assert closes == {4001: 1}
