"""What a client sends: header lines parsed and checked, a body read before its deadline."""

from __future__ import annotations

import io

import pytest

from channelstream.http_request import DISCARD_LIMIT, BodyTimeout, RequestHeaders, TimedInput


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
