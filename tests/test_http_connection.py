"""Our HTTP/1.1 server over real sockets, in this process (gevent sockets on both ends):
how answers are written, the environ built, connections kept, and upgrades handed over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent import socket

from channelstream.http_request import HttpLimits
from channelstream.http_server import ChannelstreamServer
from channelstream.realtime.websocket import UPGRADE_KEY

pytestmark = pytest.mark.timeout(30)

seen: list[dict[str, Any]] = []


def app(environ: dict[str, Any], start_response: Any) -> Any:
    seen.append(dict(environ))
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"abc", b"", b"de"])
    if path == "/nolength":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ab", b"cd"]
    if path == "/fail":
        raise RuntimeError("boom")
    if path == "/ws":
        sessions: list[Any] = []

        def make(sock: Any, leftover: bytes) -> Any:
            sessions.append((sock, leftover))
            return sessions[-1]

        def run(session: Any) -> None:
            sock, leftover = session

            def later() -> None:
                # After the connection's greenlet has ended: the socket is still open.
                sock.sendall(b"session:" + leftover)
                sock.close()

            gevent.spawn_later(0.2, later)

        environ[UPGRADE_KEY](make, run)
        start_response("101 Switching Protocols", [])
        return [b"ignored"]
    start_response("204 No Content", [])
    return []


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    limits = HttpLimits(header_timeout=1.0, keepalive_timeout=1.0, body_timeout=1.0)
    server = ChannelstreamServer(("127.0.0.1", 0), app, http_limits=limits)
    server.start()
    try:
        yield server.address[1]
    finally:
        server.stop(timeout=1)


def exchange(port: int, raw: bytes, until_close: bool = True) -> bytes:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(5)
    try:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if not until_close:
                return data
    finally:
        sock.close()


def answers(data: bytes) -> list[tuple[bytes, bytes]]:
    """(head, body) pairs of answers with a Content-Length, in order."""
    out = []
    while data:
        top, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in top.split(b"\r\n")[1:]:
            name, _, value = line.partition(b": ")
            if name.lower() == b"content-length":
                length = int(value)
        out.append((top, rest[:length]))
        data = rest[length:]
    return out


def test_an_answer_goes_out_whole_in_one_write(port: int) -> None:
    data = exchange(
        port, b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"ok":true}', False
    )
    top, body = answers(data)[0]
    assert top.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n")
    assert b"Date: " in top and body == b'{"ok":true}'


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    data = exchange(
        port,
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthree",
    )
    assert [body for _, body in answers(data)] == [b"one", b"two", b"three"]
    assert b"Connection: close" in answers(data)[-1][0]


def test_a_streamed_answer_is_chunked_and_a_listed_one_gets_its_length(port: int) -> None:
    data = exchange(port, b"GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n")
    top, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in top
    assert body == b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    old = exchange(port, b"GET /stream HTTP/1.0\r\n\r\n")  # no chunking: the close ends it
    assert old.endswith(b"\r\n\r\nabcde") and b"chunked" not in old
    listed = exchange(port, b"GET /nolength HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert b"Content-Length: 4\r\n" in listed and listed.endswith(b"abcd")


def test_head_and_204_answers_have_no_body(port: int) -> None:
    head = exchange(port, b"HEAD /nolength HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
    assert head.count(b"\r\n\r\n") == 1  # the head only
    empty = exchange(port, b"GET /other HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert empty.startswith(b"HTTP/1.1 204") and b"Content-Length" not in empty


def test_the_environ_gets_every_header_but_underscored_names(port: int) -> None:
    seen.clear()
    exchange(
        port,
        b"POST /echo%2Fx?a=%20b HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nX-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n"
        b"Cookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n{}",
    )
    environ = seen[-1]
    assert environ["PATH_INFO"] == "/echo/x" and environ["QUERY_STRING"] == "a=%20b"
    assert environ["RAW_URI"] == "/echo%2Fx?a=%20b"
    assert environ["REQUEST_METHOD"] == "POST" and environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["CONTENT_TYPE"] == "application/json" and environ["CONTENT_LENGTH"] == "2"
    headers = {key: value for key, value in environ.items() if key.startswith("HTTP_")}
    assert headers == {
        "HTTP_HOST": "example",
        "HTTP_X_FORWARDED_FOR": "10.0.0.1",
        "HTTP_COOKIE": "a=1,b=2",
        "HTTP_CONNECTION": "close",
    }
    assert environ["REMOTE_ADDR"] == "127.0.0.1" and environ["wsgi.input_terminated"]
    assert environ["SCRIPT_NAME"] == "" and environ["wsgi.url_scheme"] == "http"


def test_a_failing_application_is_a_500_in_json(port: int) -> None:
    data = exchange(port, b"GET /fail HTTP/1.1\r\n\r\n")
    top, _, body = data.partition(b"\r\n\r\n")
    assert top.startswith(b"HTTP/1.1 500") and b"Connection: close" in top
    assert json.loads(body) == {"request": "Internal Server Error"}


def test_100_continue_is_sent_when_the_body_is_read(port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(5)
    with sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"ok")
        top, body = answers(sock.recv(65536))[0]
        assert top.startswith(b"HTTP/1.1 200") and body == b"ok"


def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(5)
    with sock:
        sock.sendall(b"GET /other HTTP/1.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 204")
        started = gevent.get_hub().loop.now()
        assert sock.recv(65536) == b""  # closed by the server after keepalive_timeout
        assert gevent.get_hub().loop.now() - started < 3


def test_the_upgrade_hands_the_socket_and_what_followed_to_the_session(port: int) -> None:
    data = exchange(
        port,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nFRAME",
    )
    top, _, rest = data.partition(b"\r\n\r\n")
    assert top.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in top
    assert rest == b"session:FRAME"  # the view's own response body is not sent
    # the server's greenlet ended long before: it left the session's socket open


def test_an_absolute_form_target_is_split_into_path_and_query(port: int) -> None:
    seen.clear()
    data = exchange(port, b"GET http://example/other?a=1 HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 204")
    assert (seen[-1]["PATH_INFO"], seen[-1]["QUERY_STRING"]) == ("/other", "a=1")
    assert seen[-1]["RAW_URI"] == "http://example/other?a=1"
