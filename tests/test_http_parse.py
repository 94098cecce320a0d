"""What a client sends, parsed by httptools: heads queued, bodies kept, bounds enforced."""

from __future__ import annotations

import pytest

from channelstream.http_parse import MAX_HEADERS, Refused, Request, RequestReader


def parsed(raw: bytes) -> RequestReader:
    reader = RequestReader()
    reader.feed(raw)
    return reader


def refusal(raw: bytes) -> Refused:
    with pytest.raises(Refused) as caught:
        parsed(raw)
    return caught.value


def only(reader: RequestReader) -> Request:
    assert len(reader.ready) == 1
    return reader.ready[0]


def test_headers_are_found_whatever_their_case_first_value_wins() -> None:
    request = only(
        parsed(
            b"POST /m?x=1 HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
            b"X-Twice: one\r\nx-twice: two\r\nContent-Length:  4 \r\n\r\nbody"
        )
    )
    assert (request.method, request.target, request.version) == ("POST", "/m?x=1", "HTTP/1.1")
    assert request.header("content-type") == "application/json"
    assert request.header("x-twice") == "one"
    assert request.header("missing") is None
    assert request.headers[-1] == ("Content-Length", "4")  # blanks around a value dropped
    assert request.content_length == 4 and not request.chunked
    assert request.complete and b"".join(request.body) == b"body"


def test_bad_header_blocks_are_refused() -> None:
    head = b"GET / HTTP/1.1\r\n"
    assert refusal(head + b"no colon here\r\n\r\n").body == {"headers": ["Malformed header line"]}
    assert refusal(head + b" Host: x\r\n\r\n").body == {"headers": ["Malformed header line"]}
    assert refusal(head + b"X: " + b"a" * 70000 + b"\r\n\r\n").body == {
        "headers": ["Line too long"]
    }
    many = b"".join(b"H%d: v\r\n" % n for n in range(MAX_HEADERS + 1))
    assert refusal(head + many + b"\r\n").body == {"headers": ["Too many headers"]}
    assert only(parsed(head + many[: many.index(b"H100")] + b"\r\n")).headers[-1] == ("H99", "v")


def test_a_header_trickled_past_the_limit_is_refused_before_its_end() -> None:
    reader = parsed(b"GET / HTTP/1.1\r\nX-Slow: ")
    with pytest.raises(Refused) as caught:
        for _ in range(20):
            reader.feed(b"a" * 8192)
    assert caught.value.body == {"headers": ["Line too long"]}


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
        refused = refusal(b"GET / HTTP/1.1\r\n" + line + b"\r\n\r\n")
        assert refused.status.startswith("400") and refused.body == {
            "headers": ["Malformed header line"]
        }, line
    request = only(parsed(b"GET / HTTP/1.1\r\nX-Name:\ta\tb \xe9 \r\nX!#$%&'*+.^_`|~9: v\r\n\r\n"))
    assert request.header("x-name") == "a\tb \xe9"
    assert request.header("x!#$%&'*+.^_`|~9") == "v"


@pytest.mark.parametrize(
    "line",
    [
        b"GET /info?secret=1 junk HTTP/1.1",
        b"GET /info HTTP/7.0",
        b"POST /info?secret=1",  # what llhttp takes for HTTP/0.9
        b"BREW /coffee HTCPCP/1.0",
    ],
)
def test_malformed_request_lines_are_refused_and_logged_with_their_target(line: bytes) -> None:
    refused = refusal(line + b"\r\n\r\n")
    assert refused.status == "400 Bad Request"
    assert refused.body == {"request": "Malformed request line"}
    assert refused.logged  # the error log says which (redacted there)


def test_a_request_line_over_8_kib_is_414() -> None:
    refused = refusal(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
    assert refused.status == "414 URI Too Long"
    assert refused.body == {"request": "Request line too long"}


def test_pipelined_requests_are_queued_in_order_with_their_bodies() -> None:
    reader = parsed(
        b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /b HTTP/1.1\r\n\r\n"
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n"
    )
    first, second, third = reader.ready
    assert [r.target for r in reader.ready] == ["/a", "/b", "/c"]
    assert b"".join(first.body) == b"abc" and first.complete and second.complete
    assert third.chunked and not third.complete and b"".join(third.body) == b"hi"
    reader.feed(b"0\r\n\r\n")
    assert third.complete and not reader.in_head


def test_keep_alive_and_expect_are_read_from_the_head() -> None:
    old = only(parsed(b"GET / HTTP/1.0\r\n\r\n"))
    assert old.version == "HTTP/1.0" and not old.keep_alive
    kept = only(parsed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    assert kept.keep_alive
    closing = only(parsed(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert not closing.keep_alive
    waiting = only(parsed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"))
    assert waiting.expects_continue and not waiting.complete


def test_an_upgrade_keeps_what_follows_the_handshake() -> None:
    reader = parsed(
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\nFRAME"
    )
    assert only(reader).upgrade
    assert reader.upgraded == b"FRAME"
    reader.feed(b"MORE")  # no more HTTP on this connection
    assert reader.upgraded == b"FRAMEMORE"


def test_a_broken_chunked_body_fails_its_request_not_the_head() -> None:
    reader = parsed(b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert reader.failed
    request = only(reader)
    assert request.chunked and not request.complete


def test_a_byte_of_a_request_starts_its_head() -> None:
    reader = RequestReader()
    assert not reader.in_head
    reader.feed(b"GE")
    assert reader.in_head and not reader.ready
    reader.feed(b"T / HTTP/1.1\r\n\r\n")
    assert not reader.in_head and len(reader.ready) == 1
