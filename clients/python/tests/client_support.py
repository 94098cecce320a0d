"""What the client's tests share: the keys, a scripted HTTP server, unique names."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NEW_KEY, OLD_KEY = "client-new-key", "client-old-key"
# The server's setting during a rotation; the client, given all of it, signs with the first.
ROTATING_SECRET = f"{NEW_KEY} {OLD_KEY}"


Answer = tuple[int, dict[str, str], bytes]


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 that answers from a script, one entry a request
    (``None`` drops the connection without answering), then 200 ``[]``; it records what
    it received."""

    def __init__(self) -> None:
        self.script: list[Answer | None] = []
        self.received: list[dict[str, Any]] = []
        # The client's (address, port) pairs seen: one per TCP connection.
        self.peers: set[tuple[str, int]] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 65536  # headers and body in one write: no delayed-ACK stalls

            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                owner.peers.add(self.client_address[:2])
                owner.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                step = owner.script.pop(0) if owner.script else (200, {}, b"[]")
                if step is None:
                    self.close_connection = True
                    self.connection.close()
                    return
                status, headers, payload = step
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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

    def answer(self, *steps: Answer | None) -> None:
        self.script = list(steps)
        self.received = []
        self.peers = set()

    def bodies(self) -> list[Any]:
        return [json.loads(item["body"]) if item["body"] else None for item in self.received]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def json_answer(status: int, body: Any, **headers: str) -> Answer:
    return status, headers, json.dumps(body).encode()


def unique(prefix: str) -> str:
    """A name no other test uses (the servers are shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
