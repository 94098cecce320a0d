"""pywsgi's request handler as channelstream serves it: lean header parsing, answers in one
write, WebSocket upgrades decided by the Pyramid view, and bounds on what a client may hold.

Bounds (``HttpLimits``, from the settings): a request's line and headers must arrive within
``header_timeout``, its body within ``body_timeout``, and an idle keep-alive connection is
closed after ``keepalive_timeout``. Header names must be tokens and values free of control
characters. A body the application left unread is skipped only when small; otherwise the
connection closes after the answer (and lingers briefly, so the client still reads it).

It imports gevent but does not monkey-patch: ``channelstream.server`` (the runner) patches
first and then imports this.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from channelstream import jsonenc
from channelstream.http_request import (
    DEFAULT_LIMITS,
    HeaderTimeout,
    HttpLimits,
    IdleTimeout,
    RequestHeaders,
    TimedInput,
)
from channelstream.realtime.websocket import UPGRADE_KEY
from channelstream.redaction import redact

access_log = logging.getLogger("channelstream.access")


class ChannelstreamHandler(WebSocketHandler):
    """Let the Pyramid view decide before anything is upgraded.

    gevent-websocket upgrades before the application runs, so a view cannot refuse with an
    HTTP status. Here the application always runs first; the /ws view validates the request
    and calls the upgrade callable, which performs gevent-websocket's handshake and hands
    the socket to a wsproto session that runs after the view has returned.
    """

    MessageClass = RequestHeaders
    environ: dict[str, Any]
    socket: Any  # gevent's socket; None once a WebSocket session owns the connection
    wsgi_input: Any
    _session: Any = None
    _run_session: Callable[[Any], None] | None = None
    _requests = 0  # requests started on this connection
    _header_timer: Any = None
    _bad_headers = ""

    @property
    def limits(self) -> HttpLimits:
        return getattr(self.server, "http_limits", DEFAULT_LIMITS)

    def handle(self) -> None:
        # Answers go out in one write; without NODELAY a delayed ACK stalls keep-alive peers.
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().handle()

    # -- reading a request, within bounds ------------------------------------------------
    def handle_one_request(self) -> Any:
        limits = self.limits
        if self._requests and not self._next_request_within(limits.keepalive_timeout):
            return None
        self._requests += 1
        # From the connection's start (or the next request's first byte) to its last header.
        timer = self._header_timer = gevent.Timeout.start_new(
            limits.header_timeout, HeaderTimeout()
        )
        try:
            return super().handle_one_request()
        finally:
            timer.close()

    def _next_request_within(self, seconds: float) -> bool:
        """Wait for the first byte of a keep-alive connection's next request."""
        timer = gevent.Timeout.start_new(seconds, IdleTimeout())
        try:
            # Answers at once when a pipelined request is buffered already; b"" at EOF.
            return bool(self.rfile.peek(1))
        except (IdleTimeout, OSError, ValueError):
            return False
        finally:
            timer.close()

    def read_requestline(self) -> str:
        try:
            return str(super().read_requestline())
        except HeaderTimeout:
            return ""  # not even a request line in time: close without a word

    def read_request(self, raw_requestline: str) -> bool:
        self._bad_headers = ""
        try:
            return bool(super().read_request(raw_requestline))
        finally:
            self._header_timer.close()
            if isinstance(self.headers, RequestHeaders):
                self._bad_headers = self.headers.status

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        if isinstance(ex, HeaderTimeout):
            return "408", _error_answer("408 Request Timeout", {"request": "Request timeout"})
        super()._handle_client_error(ex)  # logged, redacted (log_error)
        if self._bad_headers:
            body: dict[str, Any] = {"headers": [self._bad_headers]}
        else:
            body = {"request": "Malformed request line"}
        return "400", _error_answer("400 Bad Request", body)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        # Every body is read through the deadline, an upgrade request's too (pywsgi would
        # hand the raw stream to the application then).
        plain = self.wsgi_input
        self.wsgi_input = environ["wsgi.input"] = TimedInput(
            self.rfile,
            self.content_length,
            plain.socket,
            plain.chunked_input,
            self.limits.body_timeout,
        )
        environ["wsgi.input_terminated"] = True
        # The request target as sent: request-bound signatures cover it byte for byte
        # (PATH_INFO is percent-decoded). gunicorn's name for it.
        environ["RAW_URI"] = self.path
        return environ

    def handle_one_response(self) -> None:
        super().handle_one_response()
        body = self.wsgi_input
        if body is not None and body.broken and self.socket is not None:
            self.close_connection = True
            _linger(self.socket)

    # -- the application and the upgrade -------------------------------------------------
    def run_application(self) -> None:
        self._session = None
        self.environ[UPGRADE_KEY] = self._upgrade
        try:
            pywsgi.WSGIHandler.run_application(self)
        finally:
            # The bound method would tie the request's objects to this handler in a cycle.
            self.environ.pop(UPGRADE_KEY, None)
        session, run = self._session, self._run_session
        self._session = self._run_session = None
        if session is not None and run is not None:
            # Drop the request's environ before a long-lived session: memory per socket.
            self.environ = {"REQUEST_METHOD": "GET", "PATH_INFO": self.environ.get("PATH_INFO")}
            run(session)
            # The session owns the connection now. pywsgi's handle() would end by reading
            # "leftover request data" from the socket: that would be the client's frames.
            self.close_connection = True
            self.socket = None

    def _upgrade(
        self, make_session: Callable[[Any, bytes], Any], run: Callable[[Any], None]
    ) -> None:
        refused = self.upgrade_connection()
        if refused is not None:
            raise RuntimeError("handshake refused after validation")
        self.write(b"")  # flush the 101 now; the view's own response is discarded
        # gevent-websocket's own WebSocket object is not used: wsproto frames the socket.
        # Its __del__ would send a close frame down our socket: cut it off from the socket
        # (it has __slots__, so close() itself cannot be replaced).
        unused = self.environ.pop("wsgi.websocket", None)
        if unused is not None:
            unused.closed = True
            unused.handler = None
            unused.stream = unused.raw_write = unused.raw_read = None
        self.websocket = None
        leftover = _buffered(self.socket, self.rfile)
        # The session takes the descriptor itself. Closing the handler's socket object would
        # not free it: pywsgi's read buffer holds a reference to that socket, and the
        # request's objects that hold the buffer are freed only by the cycle collector, so
        # finished sessions kept their descriptors until a collection (rare here).
        # Detached, the handler's socket no longer owns it, and the session closes it.
        plain = self.socket
        own = gevent.socket.socket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        self._session = make_session(own, leftover)
        self._run_session = run

    # -- writing ---------------------------------------------------------------------------
    def _headers(self) -> Any:
        """The environ's HTTP_* items, from the pairs RequestHeaders parsed (pywsgi's own
        version formats them back into lines and splits those again). As in pywsgi, names
        with an underscore are dropped: they could pass for dashed ones."""
        for name, value in self.headers._items:
            if "_" in name:
                continue
            key = name.replace("-", "_").upper()
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield "HTTP_" + key, value

    def _write_with_headers(self, data: bytes) -> None:
        """The status line, the headers and a whole body in one send: pywsgi sends the
        headers first and the body in a second system call, which also wakes the client
        twice (measured on POST /message: one send less of two per request)."""
        self.headers_sent = True
        self.finalize_headers()
        head = [b"HTTP/1.1 ", self.status, b"\r\n"]
        for name, value in self.response_headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        if data and not self.response_use_chunked:
            head.append(data)
            self._sendall(b"".join(head))
        else:
            # A streamed (chunked) body, or none: pywsgi's own encoding of what follows.
            self._sendall(b"".join(head))
            self._write(data)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        if self._session is not None:
            return lambda data: None
        body = getattr(self, "wsgi_input", None)
        if isinstance(body, TimedInput) and body.abandons():
            # The rest of the body will not be read: say the connection ends here.
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def process_result(self) -> None:
        if self._session is not None:
            return
        super().process_result()

    # -- logging: never a secret -----------------------------------------------------------
    def log_request(self) -> None:
        """The access line's facts, handed to the server's writer (``logs.access``)."""
        writer = getattr(self.server, "access_log", None)
        if writer is None or not access_log.isEnabledFor(logging.INFO):
            return
        address = self.client_address
        headers = self.headers
        writer.record(
            (
                address[0] if isinstance(address, tuple) else str(address or ""),
                time.time(),
                self.requestline or "",
                (self._orig_status or self.status or "000").split()[0],
                self.response_length or 0,
                (self.time_finish or self.time_start) - self.time_start,
                (headers.get("Referer") if headers is not None else None) or "",
                (headers.get("User-Agent") if headers is not None else None) or "",
            )
        )

    def log_error(self, msg: str, *args: Any) -> None:
        """pywsgi's messages quote malformed request lines, queries included."""
        try:
            message = msg % args if args else msg
        except (TypeError, ValueError):
            message = f"{msg!r} {args!r}"
        super().log_error(redact(message))


# How long a closing connection keeps reading what the client still sends, so that its
# kernel does not reset the connection before the client has read our answer.
LINGER_SECONDS = 2.0


def _error_answer(status: str, body: Any) -> bytes:
    """A whole answer for a request refused before the application (then we close)."""
    data = jsonenc.dumps(body)
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


def _linger(sock: Any) -> None:
    """End our side, then drop what the client still sends for a moment (bounded)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    with gevent.Timeout(LINGER_SECONDS, False):
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


def _buffered(sock: Any, rfile: Any) -> bytes:
    """Bytes the client sent right after its handshake that the request reader already
    buffered; read without waiting (a zero timeout makes the raw read answer at once)."""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        return rfile.read1(READ_AHEAD) or b""
    except OSError:
        return b""
    finally:
        sock.settimeout(timeout)


# pywsgi reads requests through an 8 KiB buffer; nothing beyond it can be waiting there.
READ_AHEAD = 8192
