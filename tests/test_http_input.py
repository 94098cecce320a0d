"""A request's body as the application reads it: pieces kept, more pulled when asked for,
before a deadline, and what is left unread decides whether the connection is kept."""

from __future__ import annotations

import pytest

from channelstream.http_input import CONTINUE, DISCARD_LIMIT, BodyInput, BodyTimeout
from channelstream.http_parse import Refused, Request


class Wire:
    """Stands for the connection: hands out `chunks` one pull at a time."""

    def __init__(self, request: Request, chunks: list[bytes], fail: BaseException | None = None):
        self.request = request
        self.chunks = chunks
        self.fail = fail
        self.sent: list[bytes] = []
        self.waits: list[float] = []
        self.got = sum(len(piece) for piece in request.body)

    def pull(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.fail is not None:
            raise self.fail
        if not self.chunks:
            return False
        self.request.body.append(self.chunks.pop(0))
        self.got += len(self.request.body[-1])
        length = self.request.content_length
        if (not self.chunks and length is None) or self.got == length:
            self.request.complete = True  # as the parser says at the body's end
        return True


def body_of(
    chunks: list[bytes],
    length: int | None,
    *,
    kept: bytes = b"",
    expects: bool = False,
    fail: BaseException | None = None,
) -> tuple[BodyInput, Wire]:
    request = Request()
    request.content_length = length
    request.chunked = length is None
    request.expects_continue = expects
    if kept:
        request.body.append(kept)
    request.complete = not chunks and fail is None
    wire = Wire(request, list(chunks), fail)
    return BodyInput(request, wire.pull, wire.sent.append, 5.0), wire


def test_a_body_is_read_in_the_sizes_asked_for() -> None:
    body, wire = body_of([b"def", b"ghi"], 9, kept=b"abc")
    assert body.read(2) == b"ab"
    assert body.unread() == 7
    assert body.read(4) == b"cdef"
    assert body.read() == b"ghi"
    assert body.read() == b""
    assert len(wire.waits) == 2 and all(0 < wait <= 5.0 for wait in wire.waits)


def test_lines_and_iteration() -> None:
    body, _ = body_of([b"two\nthree"], 13, kept=b"one\n")
    assert body.readline() == b"one\n"
    assert list(body) == [b"two\n", b"three"]


def test_a_body_knows_what_is_left_unread() -> None:
    body, _ = body_of([b"abcdef"], 6)
    assert body.unread() == 6 and not body.abandons()
    assert body.read(4) == b"abcd"
    assert body.unread() == 2
    big, _ = body_of([b"x"], DISCARD_LIMIT + 1)
    assert big.abandons()  # not worth reading to reach the next request
    chunked, _ = body_of([b"x"], None)
    assert chunked.abandons()  # a chunked body under way: unknown


def test_a_small_unread_body_is_discarded_to_keep_the_connection() -> None:
    body, wire = body_of([b"abc", b"def"], 6)
    assert body.discard()
    assert wire.request.complete and not wire.request.body


def test_a_short_body_breaks_the_stream() -> None:
    body, _ = body_of([b"abc"], 10)
    with pytest.raises(OSError):
        body.read(10)
    assert body.broken and body.abandons() and not body.discard()


def test_a_late_body_is_a_timeout() -> None:
    body, _ = body_of([b"abc"], 3, fail=TimeoutError())
    with pytest.raises(BodyTimeout):
        body.read(3)
    assert body.broken
    past, _ = body_of([b"abc"], 3)
    past.deadline = 0.0
    with pytest.raises(BodyTimeout):
        past.read(3)


def test_broken_chunking_is_a_value_error() -> None:
    body, _ = body_of([], None, fail=Refused("400 Bad Request", {}))
    with pytest.raises(ValueError):
        body.read()
    assert body.broken


def test_100_continue_goes_out_at_the_first_read_only() -> None:
    body, wire = body_of([b"ab", b"cd"], 4, expects=True)
    assert body.abandons()  # unread, the client may or may not send it: close
    assert wire.sent == []
    assert body.read() == b"abcd"
    assert wire.sent == [CONTINUE]


def test_no_100_continue_for_http_1_0() -> None:
    request = Request()
    request.version = "HTTP/1.0"
    request.expects_continue = True
    request.content_length = 2
    wire = Wire(request, [b"ab"])
    body = BodyInput(request, wire.pull, wire.sent.append, 5.0)
    assert body.read() == b"ab" and wire.sent == []
