"""The runner's pywsgi handler: how answers are written and the environ built."""

from __future__ import annotations

import io
from typing import Any

from channelstream.http_handler import ChannelstreamHandler
from channelstream.http_request import RequestHeaders


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
    handler.headers = RequestHeaders(
        io.BytesIO(
            b"Host: example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            b"X-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\nCookie: a=1\r\n\r\n"
        )
    )
    assert list(handler._headers()) == [
        ("HTTP_HOST", "example"),
        ("HTTP_X_FORWARDED_FOR", "10.0.0.1"),
        ("HTTP_COOKIE", "a=1"),
    ]
