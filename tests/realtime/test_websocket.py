"""One WebSocket session: heartbeats against a fake socket (tests.support.fake_socket);
reading over a real socket pair (the session watches a file descriptor). The write side
has its own tests (test_sending)."""

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
from channelstream.realtime.websocket import (
    CLOSE_NORMAL,
    CLOSE_PING_TIMEOUT,
    CLOSE_POLICY,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_BIG,
    WebSocketSession,
    valid_handshake_key,
)
from tests.support.fake_socket import FakeSocket, batch, drain, frames, session


# -- the handshake -------------------------------------------------------------------------
def test_a_handshake_key_is_sixteen_bytes_of_base64() -> None:
    assert valid_handshake_key("dGhlIHNhbXBsZSBub25jZQ==")  # RFC 6455's example
    for key in ("", "not base64!", "dGhlIHNhbXBsZQ==", "dGhlIHNhbXBsZSBub25jZQ"):
        assert not valid_handshake_key(key), key


# -- heartbeats ----------------------------------------------------------------------------
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
    sock._sock.send = refuse  # type: ignore[method-assign]
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


# -- wsproto's parser, made for the client's first bytes -------------------------------------
def test_a_session_that_never_got_bytes_holds_no_parser_then_answers_a_ping(
    pair: tuple[Any, Any],
) -> None:
    server, client = pair
    ws = session(server)
    ws.start(on_end=lambda: None)
    assert ws.heartbeat(now=105.0, ping_timeout=30) is True  # sending needs no parser
    assert ws.ws is None
    assert read_frames(client, 1) == [[]]
    client.sendall(Connection(ConnectionType.CLIENT).send(Ping(b"late")))
    assert read_frames(client, 1) == ["pong"]
    assert ws.ws is not None and not ws.closed


def test_bytes_that_came_with_the_upgrade_are_parsed_at_once(pair: tuple[Any, Any]) -> None:
    server, client = pair
    speaker = Connection(ConnectionType.CLIENT)
    ws = WebSocketSession(
        server,
        conn_id="c1",
        max_message=1000,
        max_queued=1_000_000,
        clock=lambda: 100.0,
        leftover=speaker.send(Ping(b"early")),
    )
    assert ws.ws is not None
    ws.start(on_end=lambda: None)
    assert read_frames(client, 1) == ["pong"]


def test_our_close_to_a_silent_client_is_a_proper_close_and_ends_the_session(
    pair: tuple[Any, Any],
) -> None:
    server, client = pair
    closes: dict[int, int] = {}
    ended = gevent.event.Event()
    ws = counted(server, closes, max_queued=1000)
    ws.start(on_end=ended.set)
    ws.close(CLOSE_NORMAL, "unknown connection")
    speaker = Connection(ConnectionType.CLIENT)
    with gevent.Timeout(5):
        speaker.receive_data(client.recv(65536))
    (close,) = list(speaker.events())
    assert isinstance(close, CloseConnection) and close.code == CLOSE_NORMAL
    assert ended.wait(5) and ws.closed
    assert closes == {CLOSE_NORMAL: 1}
