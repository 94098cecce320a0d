"""The write side of a WebSocket session (``FrameSender``) against a fake socket: partial
sends, the queue, the byte allowance, closing mid-frame, and what is made only when needed."""

from __future__ import annotations

from channelstream import jsonenc
from channelstream.realtime.websocket import CLOSE_SLOW_CONSUMER
from tests.support.fake_socket import FakeSocket, batch, drain, frames, session


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


def test_a_write_to_a_dead_socket_ends_the_session() -> None:
    sock = FakeSocket()

    def refuse(data: bytes) -> int:
        raise BrokenPipeError

    ws = session(sock)
    sock._sock.send = refuse  # type: ignore[method-assign]
    ws.send_batch(batch(1))
    assert ws.closed and sock.shut


# -- made only when needed -------------------------------------------------------------------
def test_an_idle_session_holds_no_parser_and_no_queue_until_one_is_needed() -> None:
    sock = FakeSocket()
    ws = session(sock)
    assert ws.ws is None and ws._raw_queue is None and ws._bodies is None
    ws.send_batch(batch(1))  # the kernel takes it all: still nothing queued
    assert ws.ws is None and ws._raw_queue is None and ws._bodies is None
    sock._sock.room = 3
    sock.gate.clear()
    ws.send_batch(batch(2))  # a partial send: now there is a queue
    assert ws._raw_queue is not None and ws._bodies is None
    ws.send_batch(batch(3))  # behind the writer: bodies wait to be framed
    assert ws._bodies is not None
    sock.gate.set()
    drain()
    assert frames(sock._sock.wire) == [
        [{"n": 1, "pad": ""}],
        [{"n": 2, "pad": ""}],
        [{"n": 3, "pad": ""}],
    ]
    assert ws._bodies is None and ws._queued == 0


def test_closing_a_session_that_never_heard_from_its_client_sends_a_proper_close() -> None:
    sock = FakeSocket()
    ws = session(sock)
    ws.close(1001, "server shutting down")
    drain()
    assert ws.ws is not None  # made for the close frame, so the client's answer parses
    assert frames(sock._sock.wire) == [("close", 1001, "server shutting down")]
    assert sock.shut
