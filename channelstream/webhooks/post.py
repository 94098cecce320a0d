"""One webhook POST over a kept-alive connection (the standard library's http.client: under
the gevent runner its sockets are cooperative, so a slow backend holds only the sender's own
greenlet)."""

from __future__ import annotations

import dataclasses
import http.client
import ssl
import time
import urllib.parse

# What is read of an answer: enough to say what went wrong; a longer body ends the
# connection rather than being read to its end.
ANSWER_LIMIT = 65536
# How a kept-alive connection that the other end closed meanwhile fails.
STALE = ("RemoteDisconnected", "BrokenPipeError", "ConnectionResetError")


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (refused, reset, timed out)
    detail: str  # the start of the body, or the error

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Poster:
    """POSTs to one URL; `timeout` bounds the connection, then the answer."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self.https:
                self._connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __call__(self, body: bytes, headers: dict[str, str]) -> Answer:
        reused = self._connection is not None
        answer = self._post(body, headers)
        if answer.status is None and reused and answer.detail.startswith(STALE):
            # The backend closed the kept-alive connection while it was idle: not a failure
            # of this batch, so once more on a new connection.
            answer = self._post(body, headers)
        return answer

    def _post(self, body: bytes, headers: dict[str, str]) -> Answer:
        deadline = time.monotonic() + self.timeout
        connection = self._connect()
        try:
            connection.request("POST", self.target, body=body, headers=headers)
            if connection.sock is not None:
                # What is left of the timeout for the answer, not a fresh one per read.
                connection.sock.settimeout(max(0.05, deadline - time.monotonic()))
            response = connection.getresponse()
            data = response.read(ANSWER_LIMIT + 1)
            if len(data) > ANSWER_LIMIT or response.will_close:
                self.close()
            elif connection.sock is not None:
                connection.sock.settimeout(self.timeout)
            return Answer(response.status, data[:200].decode(errors="replace"))
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
