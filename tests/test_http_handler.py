"""The runner's pywsgi handler: header parsing and how answers are written."""

from __future__ import annotations

import io
from typing import Any

import pytest

from channelstream.http_handler import (
    DISCARD_LIMIT,
    BodyTimeout,
    ChannelstreamHandler,
    RequestHeaders,
    TimedInput,
)


def parse(raw: bytes) -> RequestHeaders:
    return RequestHeaders(io.BytesIO(raw))


def test_headers_are_found_whatever_their_case_first_value_wins() -> None:
    headers = parse(
        b"Host: example\r\nContent-Type: application/json\r\nX-Twice: one\r\n"
        b"x-twice: two\r\nContent-Length:  12 \r\n\r\nbody"
    )
    assert headers.status == ""
    assert headers.get("content-type") == headers.typeheader == "application/json"
    assert headers.getheader("CONTENT-LENGTH") == "12"
    assert headers.get("x-TWICE") == "one"
    assert headers.get("missing", "default") == "default"
    assert list(headers.headers) == [
        "Host: example\r\n",
        "Content-Type: application/json\r\n",
        "X-Twice: one\r\n",
        "x-twice: two\r\n",
        "Content-Length: 12\r\n",
    ]
    del headers["X-TWICE"]
    assert headers.get("x-twice") is None
    assert len(list(headers.headers)) == 3


def test_bad_header_blocks_are_refused() -> None:
    assert parse(b"no colon here\r\n\r\n").status == "Malformed header line"
    assert parse(b" Host: x\r\n\r\n").status == "Malformed header line"
    assert parse(b"X: " + b"a" * 70000 + b"\r\n\r\n").status == "Line too long"
    assert parse(b"".join(b"H%d: v\r\n" % n for n in range(101)) + b"\r\n").status == (
        "Too many headers"
    )


class RecordingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: Any) -> None:
        self.writes.append(bytes(data))


def handler_answering(result: Any, headers: list[tuple[bytes, bytes]]) -> ChannelstreamHandler:
    handler = ChannelstreamHandler.__new__(ChannelstreamHandler)
    handler.socket = RecordingSocket()
    handler.status = b"200 OK"
    handler.code = 200
    handler.response_headers = list(headers)
    handler.provided_date = b"Sun, 29 Nov 2026 00:00:00 GMT"
    handler.provided_content_length = next((v for k, v in headers if k == b"Content-Length"), None)
    handler.result = result
    handler.request_version = "HTTP/1.1"
    handler.response_use_chunked = False
    handler.headers_sent = False
    handler.response_length = 0
    return handler


def test_an_answer_goes_out_in_one_write() -> None:
    body = b'{"ok":true}'
    handler = handler_answering(
        [body], [(b"Content-Type", b"application/json"), (b"Content-Length", b"11")]
    )
    handler.write(body)
    assert handler.socket.writes == [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + body
    ]
    assert handler.response_length == len(handler.socket.writes[0])


def test_a_streamed_answer_is_still_chunked_correctly() -> None:
    # No length known (a generator): pywsgi's chunked encoding follows the headers.
    handler = handler_answering(iter([b"abc"]), [(b"Content-Type", b"text/plain")])
    handler.write(b"abc")
    head, chunk = handler.socket.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in head and head.endswith(b"\r\n\r\n")
    assert chunk == b"3\r\nabc\r\n"


def test_the_environ_gets_every_header_but_underscored_names() -> None:
    handler = ChannelstreamHandler.__new__(ChannelstreamHandler)
    handler.headers = parse(
        b"Host: example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        b"X-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\nCookie: a=1\r\n\r\n"
    )
    assert list(handler._headers()) == [
        ("HTTP_HOST", "example"),
        ("HTTP_X_FORWARDED_FOR", "10.0.0.1"),
        ("HTTP_COOKIE", "a=1"),
    ]


def test_header_names_must_be_tokens_and_values_free_of_control_characters() -> None:
    for line in (
        b"X-Na\x00me: v",
        b"X Name: v",
        b"X-Name\x7f: v",
        b"(X): v",
        b"X-Name: a\x00b",
        b"X-Name: a\rb",
        b"X-Name: a\x1fb",
    ):
        assert parse(line + b"\r\n\r\n").status == "Malformed header line", line
    headers = parse(b"X-Name:\ta\tb \xe9 \r\nX!#$%&'*+.^_`|~9: v\r\n\r\n")
    assert headers.status == ""
    assert headers.get("x-name") == "a\tb \xe9"
    assert headers.get("x!#$%&'*+.^_`|~9") == "v"


def timed(body: bytes, length: int | None, chunked: bool = False) -> TimedInput:
    return TimedInput(io.BufferedReader(io.BytesIO(body)), length, None, chunked, 5.0)  # type: ignore[arg-type]


def test_a_body_knows_what_is_left_unread() -> None:
    body = timed(b"abcdef", 6)
    assert body.unread() == 6 and not body.abandons()
    assert body.read(4) == b"abcd"
    assert body.unread() == 2
    big = timed(b"", DISCARD_LIMIT + 1)
    assert big.abandons()  # not worth reading to reach the next request
    assert timed(b"", None, chunked=True).abandons()  # a chunked body under way: unknown


def test_a_short_body_breaks_the_stream() -> None:
    body = timed(b"abc", 10)
    with pytest.raises(OSError):
        body.read(10)
    assert body.broken and body.abandons()


def test_a_late_body_is_a_timeout() -> None:
    body = timed(b"abc", 3)
    body.deadline = 0.0
    with pytest.raises(BodyTimeout):
        body.read(3)
    assert body.broken
