"""No unauthenticated client can hold the server's memory or sockets for free.

Each test is an attack seen against 1.0, replayed over raw sockets: header trickling
(slowloris: 520 sockets sending one header byte every 3 s were held for ever), idle
keep-alive connections, bodies that stop short or never end, 100 MB sign-in forms (three
took RSS to 770 MiB), header names with a NUL, and methods a route does not take.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.hardening import closed_within, connected, read_answer, rss_kib
from tests.e2e.helpers import body_of, status_of
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(60)

HEADER_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 2.0
BODY_TIMEOUT = 1.5
# Slack for a loaded machine: a bound is checked as "within timeout + SLACK".
SLACK = 2.0


@pytest.fixture(scope="module")
def node(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {
        "header_timeout": HEADER_TIMEOUT,
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
        "body_timeout": BODY_TIMEOUT,
    }
    with ServerProcess(settings=settings, log_path=logs_dir / "hardening-http.log") as server:
        yield server


def health(node: ServerProcess) -> int:
    return requests.get(node.url + "/health", timeout=5).status_code


# -- slowloris and idle connections ------------------------------------------------------
def test_header_tricklers_are_closed_within_the_timeout_while_others_are_served(
    node: ServerProcess,
) -> None:
    tricklers = [connected(node) for _ in range(40)]
    header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    closed: set[int] = set()
    started = time.monotonic()
    for sock in tricklers:
        sock.setblocking(False)
    try:
        # One byte per socket every 0.2 s: far slower than any client, never finishing.
        for byte in header:
            if len(closed) == len(tricklers) or time.monotonic() - started > 10:
                break
            for index, sock in enumerate(tricklers):
                if index in closed:
                    continue
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    closed.add(index)
                    continue
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    try:
                        sock.recv(65536)
                    except OSError:
                        pass
                    closed.add(index)
            assert health(node) == 200  # a normal client is served meanwhile
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        assert len(closed) == len(tricklers), f"{len(closed)} of {len(tricklers)} closed"
        assert elapsed < HEADER_TIMEOUT + SLACK
    finally:
        for sock in tricklers:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed(node: ServerProcess) -> None:
    with connected(node) as sock:
        assert closed_within(sock, HEADER_TIMEOUT + SLACK)


def test_headers_cut_short_get_408(node: ServerProcess) -> None:
    with connected(node) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        answer = read_answer(sock, HEADER_TIMEOUT + SLACK)
        assert status_of(answer) == 408
        assert body_of(answer) == {"request": "Request timeout"}


def test_an_idle_keep_alive_connection_is_closed_a_busy_one_is_kept(
    node: ServerProcess,
) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with connected(node) as busy, connected(node) as idle:
        idle.sendall(request)
        assert status_of(read_answer(idle)) == 200
        # The busy one asks again and again, each gap shorter than the idle timeout.
        deadline = time.monotonic() + KEEPALIVE_TIMEOUT + 1
        while time.monotonic() < deadline:
            busy.sendall(request)
            assert status_of(read_answer(busy)) == 200
            time.sleep(KEEPALIVE_TIMEOUT / 4)
        assert closed_within(idle, SLACK)
        busy.sendall(request)
        assert status_of(read_answer(busy)) == 200


# -- bodies ------------------------------------------------------------------------------
def post_head(node: ServerProcess, path: str, length: int, content_type: str) -> bytes:
    headers = node.headers()
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nx-channelstream-secret: "
        f"{headers['x-channelstream-secret']}\r\n\r\n"
    ).encode()


def test_a_body_shorter_than_its_content_length_is_400(node: ServerProcess) -> None:
    for path, content_type in (
        ("/message", "application/json"),
        ("/connect", "application/json"),
        ("/admin/sign_in", "application/x-www-form-urlencoded"),
    ):
        with connected(node) as sock:
            sock.sendall(post_head(node, path, 100, content_type) + b'[{"a": 1}')
            sock.shutdown(socket.SHUT_WR)  # the body ends here
            answer = read_answer(sock)
            assert status_of(answer) == 400, answer
            assert body_of(answer) == {"body": ["Shorter than its Content-Length (100 bytes)."]}
    assert health(node) == 200


def test_a_body_that_stops_coming_is_408(node: ServerProcess) -> None:
    with connected(node) as sock:
        sock.sendall(post_head(node, "/message", 100, "application/json") + b"[")
        started = time.monotonic()
        answer = read_answer(sock, BODY_TIMEOUT + SLACK)
        assert status_of(answer) == 408, answer
        assert body_of(answer) == {"body": ["Not received in time."]}
        assert time.monotonic() - started < BODY_TIMEOUT + SLACK


def send_huge_form(node: ServerProcess, size: int, chunked: bool) -> int:
    """POST a `size`-byte form to /admin/sign_in, sending while the server reads; answer
    the status (0 when the server closed before answering)."""
    if chunked:
        head = (
            b"POST /admin/sign_in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
    else:
        head = post_head(node, "/admin/sign_in", size, "application/x-www-form-urlencoded")
    piece = b"a" * (1 << 20)
    start = b"username="
    with connected(node, timeout=10) as sock:
        sock.sendall(head + (b"%x\r\n%s\r\n" % (len(start), start) if chunked else start))
        sent = 0
        while sent < size:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                sock.sendall(data)
            except OSError:
                break
            sent += len(piece)
        answer = read_answer(sock, 10)
    return status_of(answer) if answer else 0


@pytest.mark.timeout(120)
def test_huge_sign_in_forms_are_refused_without_growing_memory(node: ServerProcess) -> None:
    before = rss_kib(node.pid)
    statuses = []
    for chunked in (False, False, False, True, True):
        statuses.append(send_huge_form(node, 100 << 20, chunked))
    grown = rss_kib(node.pid) - before
    assert statuses == [413] * 5
    # 1.0 kept 589 MiB after three such forms; bounded reading keeps about the limit (1 MiB).
    assert grown < 32 * 1024, f"RSS grew by {grown} KiB"
    ok = requests.post(
        node.url + "/admin/sign_in",
        data={"username": "admin", "password": node.settings["admin_secret"]},
        allow_redirects=False,
        timeout=10,
    )
    assert ok.status_code == 302


def test_a_body_over_the_limit_is_413_on_routes_that_read_none(node: ServerProcess) -> None:
    for method, path in (("POST", "/health"), ("POST", "/admin"), ("DELETE", "/listen")):
        with connected(node) as sock:
            head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {50 << 20}\r\n\r\n"
            sock.sendall(head.encode())
            answer = read_answer(sock)
            assert status_of(answer) == 413, (path, answer)
            assert body_of(answer) == {"body": ["Larger than 1048576 bytes."]}


def test_a_413_reaches_a_client_that_sends_its_whole_body(node: ServerProcess) -> None:
    # requests sends all 3 MiB before it reads: the server must not reset it meanwhile.
    response = requests.post(
        node.url + "/message", data=b"[" * (3 << 20), headers=node.headers(), timeout=10
    )
    assert response.status_code == 413


# -- headers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        b"X-Na\x00me: v",
        b"X-Name\x00: v",
        b"\x00: v",
        b"X Name: v",
        b"X-Name\x01: v",
        b"X-Name: a\x00b",
        b"X-Name: a\rb",
        b"X-Name: a\x1bb",
        b"X-Name\x7f: v",
    ],
)
def test_control_characters_in_headers_are_400(node: ServerProcess, header: bytes) -> None:
    with connected(node) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
        answer = read_answer(sock)
    assert status_of(answer) == 400, answer
    assert body_of(answer) == {"headers": ["Malformed header line"]}


def test_tabs_and_latin_1_in_header_values_are_fine(node: ServerProcess) -> None:
    with connected(node) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Name: a\tb \xe9\r\n\r\n")
        assert status_of(read_answer(sock)) == 200


# -- methods -----------------------------------------------------------------------------
ROUTES = {
    "/message": {"POST", "PATCH", "DELETE"},
    "/connect": {"POST"},
    "/subscribe": {"POST"},
    "/unsubscribe": {"POST"},
    "/user_state": {"POST"},
    "/channel_config": {"POST"},
    "/info": {"GET", "POST"},
    "/ws": {"GET"},
    "/listen": {"GET"},
    "/disconnect": {"GET", "POST"},
    "/health": {"GET"},
    "/admin/admin.json": {"GET", "POST"},
    "/admin/sign_in": {"GET", "POST"},
    "/admin/api/message": {"POST"},
    "/admin/api/channel_config": {"POST"},
    "/admin/api/disconnect": {"POST"},
    "/openapi.json": {"GET"},
    "/api-explorer": {"GET"},
}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_other_methods_are_405_with_allow(node: ServerProcess, path: str) -> None:
    methods = ROUTES[path]
    allow = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
    for method in sorted(METHODS - methods):
        response = node.call(method, path, [])
        assert response.status_code == 405, (method, path, response.status_code)
        assert set(response.headers["Allow"].split(", ")) == allow
        assert response.json() == {"request": "Method Not Allowed"}
    for method in methods:
        assert node.call(method, path, []).status_code != 405, (method, path)


def test_a_405_client_can_go_on_on_the_same_connection(node: ServerProcess) -> None:
    session = requests.Session()
    for _ in range(3):
        assert session.put(node.url + "/health", timeout=5).status_code == 405
        assert session.get(node.url + "/health", timeout=5).status_code == 200


def test_the_server_is_still_fine(node: ServerProcess) -> None:
    threads = [threading.Thread(target=health, args=(node,)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert health(node) == 200
