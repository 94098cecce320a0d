"""A real HTTP proxy that loses answers on purpose: what a backend sees when a publish went
through but its answer did not come back (a dropped connection, a balancer's 503), so that
tests can prove a retry is harmless.

Each request is forwarded whole to the next upstream in turn (several nodes of a cluster:
a retry lands on another node, as behind a round-robin balancer), then answered as the
script says: ``"drop"`` closes the connection without an answer, ``"503"`` answers 503 in
place of what the upstream said, ``"pass"`` relays the upstream's answer. When the script
runs out, every request passes.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = ("drop", "503", "pass")
# What the proxy does not copy from one side to the other: it frames the body itself.
HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class FlakyProxy:
    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = [urllib.parse.urlsplit(url) for url in upstreams]
        self.script: list[str] = []
        # (upstream index, path, status the upstream answered, action taken), in order.
        self.forwarded: list[tuple[int, str, int, str]] = []
        self._turn = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                index, action = owner._next()
                status, headers, answer = owner._forward(index, self, body)
                owner.forwarded.append((index, self.path, status, action))
                if action == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "503":
                    status, headers, answer = 503, {"Content-Type": "application/json"}, b"{}"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PATCH = do_DELETE = do_any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def lose(self, *actions: str) -> None:
        """What to do with the next requests' answers, one action each."""
        assert all(action in ACTIONS for action in actions), actions
        with self._lock:
            self.script = list(actions)
            self.forwarded = []

    def _next(self) -> tuple[int, str]:
        with self._lock:
            index = self._turn % len(self.upstreams)
            self._turn += 1
            return index, self.script.pop(0) if self.script else "pass"

    def _forward(
        self, index: int, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        upstream = self.upstreams[index]
        assert upstream.hostname is not None
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_HEADERS}
            return response.status, kept, answer
        finally:
            connection.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
