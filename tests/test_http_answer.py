"""The bytes of an answer's head, and the answers the server gives by itself."""

from __future__ import annotations

import json

import pytest

from channelstream.http_answer import (
    SUPPORTED_VERSIONS,
    error_answer,
    head,
    http_date,
    switching_protocols,
)


def test_a_head_gets_a_date_unless_given_and_says_when_the_connection_ends() -> None:
    text = head(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")], False, False
    )
    assert text.startswith("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    assert f"Date: {http_date()}\r\n" in text and text.endswith("\r\n\r\n")
    assert "Connection" not in text
    dated = head("200 OK", [("date", "then")], True, False)
    assert dated == "HTTP/1.1 200 OK\r\ndate: then\r\nConnection: close\r\n\r\n"
    assert head("204 No Content", [("Date", "d")], False, True).endswith(
        "Connection: keep-alive\r\n\r\n"
    )


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb"])
def test_a_line_break_in_a_header_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        head("200 OK", [("X-Name", value)], False, False)


def test_an_error_answer_is_whole_json_and_closes() -> None:
    answer = error_answer("400 Bad Request", {"headers": ["Malformed header line"]})
    top, _, body = answer.partition(b"\r\n\r\n")
    assert top.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in top and b"Content-Length: %d" % len(body) in top
    assert json.loads(body) == {"headers": ["Malformed header line"]}


def test_the_handshake_answer_carries_rfc_6455s_accept_key() -> None:
    # RFC 6455, section 1.3: the sample nonce and its accept value.
    answer = switching_protocols("dGhlIHNhbXBsZSBub25jZQ==")
    assert answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in answer
    assert b"Upgrade: websocket\r\n" in answer and answer.endswith(b"\r\n\r\n")
    assert "13" in SUPPORTED_VERSIONS
