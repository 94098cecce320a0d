"""One client connection of our HTTP/1.1 server: requests read by httptools, served by the
WSGI application (Pyramid) one at a time, answered in one write, kept alive while the
client wants, and handed to a WebSocket session when the /ws view upgrades it.

Bounds (``HttpLimits``, from the settings): a request's line and headers must arrive within
``header_timeout`` (from the connection's start, or from the first byte of a keep-alive
connection's next request), its body within ``body_timeout``, and an idle keep-alive
connection is closed after ``keepalive_timeout``. A body the application left unread is
skipped only when small; otherwise the connection closes after the answer (and lingers
briefly, so the client still reads it).

It imports gevent but does not monkey-patch (``channelstream.server`` does, first).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import gevent
import httptools

from channelstream.http_answer import error_answer, head, switching_protocols
from channelstream.http_input import BodyInput
from channelstream.http_parse import Refused, Request, RequestReader
from channelstream.http_request import HttpLimits
from channelstream.realtime.websocket import UPGRADE_KEY
from channelstream.redaction import redact

log = logging.getLogger("channelstream.http")
access_log = logging.getLogger("channelstream.access")

READ_SIZE = 65536
# How long a closing connection keeps reading what the client still sends, so that its
# kernel does not reset the connection before the client has read our answer.
LINGER_SECONDS = 2.0
# Answers that never have a body (RFC 9112, section 6.3).
_BODYLESS = ("1", "204", "304")
TIMEOUT_ANSWER = error_answer("408 Request Timeout", {"request": "Request timeout"})


class HttpConnection:
    """Serves one accepted socket; ``server`` gives ``application``, ``http_limits``,
    ``access_log`` (a ``logs.access.AccessLog`` or None) and ``environ_base``."""

    def __init__(self, sock: Any, address: Any, server: Any) -> None:
        self.sock: Any = sock  # None once a WebSocket session owns the descriptor
        self.address = address
        self.server = server
        self.limits: HttpLimits = server.http_limits
        self.reader = RequestReader()
        self.started = time.monotonic()
        self.served = 0
        self._session: Any = None
        self._run: Callable[[Any], None] | None = None
        # The answer under way (one request at a time).
        self._request: Request | None = None
        self._environ: dict[str, Any] | None = None
        self._status = ""
        self._headers: list[tuple[str, str]] = []
        self._head_sent = False
        self._chunked = False
        self._close = False
        self._sent = 0

    def serve(self) -> None:
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            while True:
                request = self._next_request()
                if request is None or not self._serve(request):
                    break
        except Refused as refused:
            self._refuse(refused)
        except OSError:
            pass  # the client went away
        finally:
            self.reader.close()
        session, run = self._session, self._run
        self._session = self._run = None
        if session is not None and run is not None:
            run(session)  # the session owns the connection from here on

    # -- reading a request, within bounds ------------------------------------------------
    def _recv(self, seconds: float) -> bytes:
        sock = self.sock
        sock.settimeout(max(seconds, 0.001))
        data: bytes = sock.recv(READ_SIZE)
        return data

    def _next_request(self) -> Request | None:
        reader = self.reader
        if reader.ready:
            return reader.ready.popleft()  # pipelined: read with the previous one
        limits = self.limits
        if self.served and not reader.in_head:
            try:
                data = self._recv(limits.keepalive_timeout)
            except OSError:  # TimeoutError included: an idle keep-alive connection
                return None
            if not data:
                return None
            deadline = time.monotonic() + limits.header_timeout
            reader.feed(data)
        else:
            deadline = self.started + limits.header_timeout
        while not reader.ready:
            if reader.failed:
                return None
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                data = self._recv(left)
            except TimeoutError:
                if reader.in_head:
                    self._send(TIMEOUT_ANSWER)  # the headers were cut short
                return None  # not even a request line in time: close without a word
            if not data:
                return None
            reader.feed(data)
        return reader.ready.popleft()

    def _pull(self, seconds: float) -> bool:
        """More of the current request's body (``BodyInput``); False at the stream's end,
        ``Refused`` when its framing broke."""
        reader = self.reader
        if reader.upgraded is not None:
            return False
        if not reader.failed:
            data = self._recv(seconds)
            if not data:
                return False
            reader.feed(data)
        if reader.failed:
            raise Refused("400 Bad Request", {"body": ["Malformed chunked body."]})
        return True

    def _refuse(self, refused: Refused) -> None:
        if refused.logged:
            log.warning("refused a request (%s): %s", refused.status, redact(refused.logged))
        try:
            self._send(error_answer(refused.status, refused.body))
        except OSError:
            return
        self._linger()

    # -- one request -------------------------------------------------------------------
    def _serve(self, request: Request) -> bool:
        """Answer ``request``; True to keep the connection for the next one."""
        self.served += 1
        started = time.time()
        body = BodyInput(request, self._pull, self._send, self.limits.body_timeout)
        environ = self._environ = self._environ_for(request, body)
        self._request = request
        self._status = ""
        self._head_sent = self._chunked = False
        self._sent = 0
        # A refused upgrade ends the connection: llhttp took what followed as upgraded.
        self._close = not request.keep_alive or request.upgrade
        try:
            result = self.server.application(environ, self._start_response)
            try:
                if self._session is None:
                    self._answer(result)
            finally:
                closing = getattr(result, "close", None)
                if closing is not None:
                    closing()
        except OSError:
            raise  # the client went away while we answered
        except Exception:
            log.exception("the application failed on %s", redact(request.target))
            self._close = True
            if not self._head_sent:
                self._status = "500 Internal Server Error"
                self._send(error_answer(self._status, {"request": "Internal Server Error"}))
        finally:
            # The bound method would tie the request's objects to this connection.
            environ.pop(UPGRADE_KEY, None)
            self._environ = None
            self._request = None
        self._log(request, started)
        if self._session is not None:
            return False
        if not self._close and not body.discard():
            self._close = True
        if self._close and not request.complete and self.sock is not None:
            self._linger()
        return not self._close

    def _environ_for(self, request: Request, body: BodyInput) -> dict[str, Any]:
        """PEP 3333's environ, with only what a request needs (PATH_INFO percent-decoded
        as latin-1, headers as HTTP_*; names with an underscore are dropped, as pywsgi
        drops them: they could pass for dashed ones)."""
        target = request.target
        if target[:1] == "/" or target == "*":
            path, _, query = target.partition("?")
        else:  # the absolute form, "http://host/path?query"
            try:
                url = httptools.parse_url(target.encode("latin-1"))
            except httptools.HttpParserInvalidURLError:
                raise Refused(
                    "400 Bad Request", {"request": "Malformed request line"}, repr(target)
                ) from None
            path = (url.path or b"/").decode("latin-1")
            query = (url.query or b"").decode("latin-1")
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        environ = self.server.environ_base.copy()
        address = self.address
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["SERVER_PROTOCOL"] = request.version
        # The request target as sent: request-bound signatures cover it byte for byte
        # (PATH_INFO is percent-decoded). gunicorn's name for it.
        environ["RAW_URI"] = target
        if isinstance(address, tuple):
            environ["REMOTE_ADDR"] = address[0]
            environ["REMOTE_PORT"] = str(address[1])
        else:
            environ["REMOTE_ADDR"] = str(address or "")
        environ["wsgi.input"] = body
        environ[UPGRADE_KEY] = self._upgrade
        for name, value in request.headers:
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                key = "HTTP_" + key
            known = environ.get(key)
            environ[key] = value if known is None else known + "," + value
        return environ

    # -- the answer --------------------------------------------------------------------
    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self._head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        self._status = status
        self._headers = headers
        return self._write

    def _write(self, data: bytes) -> None:
        """WSGI's write(), and each piece of a streamed result."""
        if self._session is not None:
            return  # the view's own 101 response: the handshake was sent already
        if not self._head_sent:
            self._send_head(data, streamed=True)
        elif data and not self._bodyless():
            self._send(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)

    def _answer(self, result: Iterable[bytes]) -> None:
        if isinstance(result, (list, tuple)) and not self._head_sent:
            # Pyramid's answers: one body, known whole; head and body go out in one send.
            data = result[0] if len(result) == 1 else b"".join(result)
            self._send_head(data, streamed=False)
            return
        for data in result:
            if data:
                self._write(data)
        if not self._head_sent:
            self._send_head(b"", streamed=False)
        elif self._chunked:
            self._send(b"0\r\n\r\n")

    def _bodyless(self) -> bool:
        request = self._request
        return (request is not None and request.method == "HEAD") or self._status.startswith(
            _BODYLESS
        )

    def _send_head(self, data: bytes, streamed: bool) -> None:
        if not self._status:
            raise RuntimeError("the application answered before start_response")
        request = self._request
        assert request is not None
        headers = self._headers
        if not self._body_read_through():
            self._close = True  # the rest of the body will not be read: say so
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                has_length = True
            elif lowered == "connection" and value.lower() == "close":
                self._close = True
        bodyless = self._bodyless()
        if not has_length and not bodyless:
            if not streamed:
                headers = [*headers, ("Content-Length", str(len(data)))]
            elif request.version == "HTTP/1.1":
                headers = [*headers, ("Transfer-Encoding", "chunked")]
                self._chunked = True
            else:
                self._close = True  # HTTP/1.0 without a length: the end of the stream says
        one_0 = request.version == "HTTP/1.0" and not self._close
        text = head(self._status, headers, self._close, one_0).encode("latin-1")
        self._head_sent = True
        if bodyless or not data:
            self._send(text)
        elif self._chunked:
            self._send(text + b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self._send(text + data)

    def _body_read_through(self) -> bool:
        environ = self._environ
        body = environ.get("wsgi.input") if environ is not None else None
        return not isinstance(body, BodyInput) or not body.abandons()

    def _send(self, data: bytes) -> None:
        sock = self.sock
        # Reads leave their own deadline on the socket. A client that does not take an
        # answer for as long as an idle connection may stay is dropped.
        sock.settimeout(self.limits.keepalive_timeout)
        sock.sendall(data)
        self._sent += len(data)

    # -- the upgrade ---------------------------------------------------------------------
    def _upgrade(
        self, make_session: Callable[[Any, bytes], Any], run: Callable[[Any], None]
    ) -> None:
        """Called by the /ws view once it has validated the request: the 101, then the
        socket goes to the session, which runs once the view has returned."""
        environ, request = self._environ, self._request
        if environ is None or request is None or not request.upgrade:
            raise RuntimeError("handshake refused after validation")
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
        if not key:
            raise RuntimeError("handshake refused after validation")
        self._send(switching_protocols(key))
        self._status = "101 Switching Protocols"
        self._head_sent = True
        leftover = self.reader.upgraded or b""
        self.reader.upgraded = b""
        # The server leaves this socket open once this greenlet ends (handed_over): the
        # session owns it, and closing it frees the descriptor at once (nothing else
        # holds the socket object).
        own, self.sock = self.sock, None
        own.settimeout(None)  # the session's writes wait as long as it lets them
        self.server.handed_over.add(own)
        self._session = make_session(own, leftover)
        self._run = run

    # -- logging and closing -------------------------------------------------------------
    def _log(self, request: Request, started: float) -> None:
        """The access line's facts, handed to the server's writer (``logs.access``)."""
        writer = self.server.access_log
        if writer is None or not access_log.isEnabledFor(logging.INFO):
            return
        address = self.address
        now = time.time()
        writer.record(
            (
                address[0] if isinstance(address, tuple) else str(address or ""),
                now,
                f"{request.method} {request.target} {request.version}",
                (self._status or "000").split()[0],
                self._sent,
                now - started,
                request.header("referer") or "",
                request.header("user-agent") or "",
            )
        )

    def _linger(self) -> None:
        """End our side, then drop what the client still sends for a moment (bounded)."""
        sock = self.sock
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        sock.settimeout(None)
        with gevent.Timeout(LINGER_SECONDS, False):
            try:
                while sock.recv(READ_SIZE):
                    pass
            except OSError:
                pass
