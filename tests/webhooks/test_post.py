"""One webhook POST against a real HTTP server in this process: answers, timeouts, a
kept-alive connection the backend closed meanwhile, nobody listening."""

from __future__ import annotations

import time

from channelstream.webhooks.post import Poster
from tests.support.server import free_port
from tests.support.webhook_receiver import receiving

HEADERS = {"Content-Type": "application/json"}


def test_answers_are_told_apart_and_the_connection_is_kept_alive() -> None:
    with receiving("key") as receiver:
        post = Poster(receiver.url + "?token=t", timeout=2)
        receiver.script = [(204, 0), (500, 0)]
        first = post(b'{"events": []}', HEADERS)
        second = post(b'{"events": []}', HEADERS)
        assert first.ok and first.status == 204
        assert not second.ok and second.status == 500
        assert len(receiver.requests) == 2
        post.close()


def test_a_slow_answer_is_a_timeout_within_the_timeout() -> None:
    with receiving("key") as receiver:
        post = Poster(receiver.url, timeout=0.5)
        receiver.script = [(204, 2.0)]
        started = time.monotonic()
        answer = post(b"{}", HEADERS)
        assert answer.status is None and "timed out" in answer.detail
        assert time.monotonic() - started < 1.5


def test_a_kept_alive_connection_closed_meanwhile_is_not_a_failure() -> None:
    with receiving("key") as receiver:
        post = Poster(receiver.url, timeout=2)
        assert post(b"{}", HEADERS).ok
        assert post._connection is not None and post._connection.sock is not None
        # The backend drops the idle connection (as servers do after their keep-alive).
        post._connection.sock.shutdown(2)
        assert post(b"{}", HEADERS).ok
        assert len(receiver.requests) == 2


def test_nobody_listening_is_no_answer() -> None:
    answer = Poster(f"http://127.0.0.1:{free_port()}/hook", timeout=1)(b"{}", HEADERS)
    assert answer.status is None and "Connection" in answer.detail and not answer.ok
