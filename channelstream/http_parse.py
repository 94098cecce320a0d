"""Requests read off a connection's bytes by httptools (llhttp, the C parser of Node.js),
within bounds on the request line, the number of headers and their size.

The parser pushes what it finds through callbacks and cannot be paused, so one feed may
hold the end of a request, a whole pipelined one and the start of a third: each request
is queued as soon as its headers are complete, and its body pieces are kept on it. The
connection feeds more bytes only when the request it serves needs them, so what is queued
stays within one read.

It imports neither gevent nor Pyramid: it only parses.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import httptools

# pywsgi's bounds, kept: a request line of at most 8 KiB, at most 100 headers, a header of
# at most 64 KiB (and the whole header block at most that plus one read).
MAX_REQUEST_LINE = 8192
MAX_HEADERS = 100
MAX_LINE = 65536


class Refused(Exception):
    """A request that cannot be served: answer ``status`` with ``body`` and close."""

    def __init__(self, status: str, body: dict[str, Any], logged: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.logged = logged  # for the error log, the first line as sent (redacted there)


def malformed_headers(reason: str) -> Refused:
    return Refused("400 Bad Request", {"headers": [reason]})


# llhttp's reasons for a head it cannot parse that concern the headers, not the first line.
_HEADER_REASONS = ("header", "content-length", "transfer-encoding", "after start line")


def _refused(exc: Exception, seen: bytes) -> Refused:
    reason = str(exc)
    first = seen.split(b"\r\n", 1)[0].decode("latin-1")
    logged = f"{reason}: {first!r}"
    if any(word in reason.lower() for word in _HEADER_REASONS):
        return Refused("400 Bad Request", {"headers": ["Malformed header line"]}, logged)
    return Refused("400 Bad Request", {"request": "Malformed request line"}, logged)


class Request:
    """One request: its head as parsed, and its body as it arrives."""

    __slots__ = (
        "body",
        "chunked",
        "complete",
        "content_length",
        "expects_continue",
        "headers",
        "keep_alive",
        "method",
        "target",
        "upgrade",
        "version",
    )

    def __init__(self) -> None:
        self.method = "GET"
        self.target = ""
        self.version = "HTTP/1.1"
        # (name, value) as sent, decoded as latin-1 (PEP 3333), values without edge blanks.
        self.headers: list[tuple[str, str]] = []
        self.keep_alive = True
        self.upgrade = False
        self.expects_continue = False
        self.content_length: int | None = None
        self.chunked = False
        self.body: deque[bytes] = deque()
        self.complete = False  # the whole body has been parsed

    def header(self, name: str) -> str | None:
        """The first value of a header, by lowercase name (a handful of calls a request)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class RequestReader:
    """Feeds bytes to httptools and queues the requests found in them."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self.ready: deque[Request] = deque()  # heads complete, not served yet
        self._current: Request | None = None  # the request being parsed
        self._url = b""
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._head_bytes = 0
        self._refusal: Refused | None = None
        self.failed = False  # a body's framing broke: nothing more can be parsed
        self.upgraded: bytes | None = None  # after an upgrade request: the bytes after it

    @property
    def in_head(self) -> bool:
        """A byte of a request has come but not yet its last header."""
        return self._in_head

    def close(self) -> None:
        """Let the parser go: it holds this reader's callbacks, a cycle otherwise left to
        the cycle collector, once per connection."""
        self._parser = None  # type: ignore[assignment]
        self.ready.clear()

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raises ``Refused`` on a request line or headers that cannot be
        served. A body that breaks (bad chunking) sets ``failed`` instead: its request is
        served, and reading its body fails."""
        if self.upgraded is not None:
            self.upgraded += data  # no more HTTP on this connection
            return
        if self.failed:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.upgraded = data[upgrade.args[0] :]
        except httptools.HttpParserError as exc:
            if self._refusal is not None:
                raise self._refusal from None
            if self._current is not None and not self._in_head:
                self.failed = True
                return
            raise _refused(exc, self._url or data) from None
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_REQUEST_LINE + MAX_LINE:
                raise malformed_headers("Line too long")

    # -- httptools' callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._current = Request()
        self._url = b""
        self._raw_headers = []
        self._in_head = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_REQUEST_LINE:
            self._refusal = Refused(
                "414 URI Too Long", {"request": "Request line too long"}, "request line too long"
            )
            raise self._refusal

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called once a header for every request: kept raw, checked and decoded at the end
        # of the head (their number and size are bounded by the head's size meanwhile).
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        request = self._current
        assert request is not None
        parser = self._parser
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            # llhttp takes "GET /" alone as HTTP/0.9: no headers, no way to answer in JSON.
            self._refusal = Refused(
                "400 Bad Request",
                {"request": "Malformed request line"},
                f"HTTP/{version}: {self._url.decode('latin-1')!r}",
            )
            raise self._refusal
        raw = self._raw_headers
        if len(raw) > MAX_HEADERS:
            self._refusal = malformed_headers("Too many headers")
            raise self._refusal
        self._in_head = False
        request.method = parser.get_method().decode("ascii")
        request.target = self._url.decode("latin-1")
        request.version = "HTTP/" + version
        request.keep_alive = parser.should_keep_alive()
        request.upgrade = parser.should_upgrade()
        headers = request.headers
        for raw_name, raw_value in raw:
            if len(raw_name) + len(raw_value) > MAX_LINE:
                self._refusal = malformed_headers("Line too long")
                raise self._refusal
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1").strip(" \t")
            headers.append((name, value))
            if len(name) < 6 or name[0] not in "cCtTeE":
                continue  # not one of the three below: most headers stop here
            lowered = name.lower()
            if lowered == "content-length":
                request.content_length = int(value)  # llhttp checked it is digits, once
            elif lowered == "transfer-encoding":
                request.chunked = "chunked" in value.lower()
            elif lowered == "expect":
                request.expects_continue = value.lower() == "100-continue"
        self.ready.append(request)

    def on_body(self, body: bytes) -> None:
        request = self._current
        assert request is not None
        request.body.append(body)

    def on_message_complete(self) -> None:
        request = self._current
        assert request is not None
        request.complete = True
        self._current = None
