"""A real HTTP server in the test process that receives webhooks: it keeps every request
(headers, raw body, when), answers what the test tells it to (a status, after a delay), and
checks each signature with ``channelstream_client.verify_webhook``."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from channelstream_client import WebhookError, verify_webhook
from tests.support.waiting import wait_until


@dataclass
class Received:
    at: float  # time.monotonic() when it arrived
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered
    verified: bool  # whether verify_webhook accepted it with the receiver's secret

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(json.loads(self.body)["events"])


@dataclass
class Receiver:
    secret: str
    requests: list[Received] = field(default_factory=list)
    # Answers for the next requests, in order (status, delay in seconds); then `status`.
    script: list[tuple[int, float]] = field(default_factory=list)
    status: int = 204
    delay: float = 0.0
    port: int = 0
    # Requests that arrived, counted before they are answered (one may be in flight).
    arrived: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> tuple[int, float]:
        with self.lock:
            self.arrived += 1
            return self.script.pop(0) if self.script else (self.status, self.delay)

    def keep(self, received: Received) -> None:
        with self.lock:
            self.requests.append(received)

    # -- what the tests read --------------------------------------------------------
    def accepted(self) -> list[Received]:
        """The requests answered with a 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def delivered(self) -> list[dict[str, Any]]:
        """Every event of an accepted request, in arrival order, each id once (a receiver
        drops repeats by id, as docs/webhooks.md tells it to)."""
        seen: set[str] = set()
        events = []
        for request in self.accepted():
            for event in request.events:
                if event["id"] not in seen:
                    seen.add(event["id"])
                    events.append(event)
        return events

    def names(self, **about: str) -> list[str]:
        """The delivered events' names, of those about the given user/channel."""
        return [
            event["name"]
            for event in self.delivered()
            if all(event.get(key) == value for key, value in about.items())
        ]

    def wait_for(self, count: int, timeout: float = 10, **about: str) -> list[str]:
        try:
            wait_until(lambda: len(self.names(**about)) >= count, timeout, interval=0.02)
        except AssertionError:
            raise AssertionError(
                f"{count} webhook events about {about} did not arrive within {timeout}s: "
                f"{self.names(**about)}"
            ) from None
        return self.names(**about)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.script.clear()


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.partition("?")[0] != "/hook":
                # Not a webhook: a stray client of another run that had this port before
                # (seen when several suites share a machine). Not kept, not counted.
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = dict(self.headers.items())
            try:
                verify_webhook(receiver.secret, headers, body)
                verified = True
            except WebhookError:
                verified = False
            status, delay = receiver.answer()
            if delay:
                time.sleep(delay)
            receiver.keep(Received(time.monotonic(), headers, body, status, verified))
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(secret: str) -> Iterator[Receiver]:
    receiver = Receiver(secret)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
