"""pywsgi's request handler as channelstream serves it: lean header parsing, answers in one
write, and WebSocket upgrades decided by the Pyramid view.

It imports gevent but does not monkey-patch: ``channelstream.server`` (the runner) patches
first and then imports this.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable
from typing import Any

import gevent
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from channelstream.realtime.websocket import UPGRADE_KEY

access_log = logging.getLogger("channelstream.access")

# 0.7 accepted the API signature in ?secret=; it must never reach a log.
_SECRET_PARAM = re.compile(r"([?&;]secret=)[^&;\s\"]*")


def redact(line: str) -> str:
    return _SECRET_PARAM.sub(r"\1***", line)


class RequestHeaders:
    """Request headers for pywsgi, parsed in plain Python.

    pywsgi's default goes through http.client and the email package, about a fifth of what
    a small API call costs here. This offers what pywsgi asks of it: ``status`` (non-empty
    means refuse with 400), ``get``, ``getheader``, ``del``, ``headers`` and ``typeheader``.
    """

    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, fp: Any, *args: Any) -> None:
        self.status = ""
        self._items: list[tuple[str, str]] = []
        # Lowercased name -> first value: pywsgi asks for about eight headers a request.
        self._first: dict[str, str] = {}
        for _ in range(self.MAX_HEADERS + 1):
            line = fp.readline(self.MAX_LINE + 1)
            if len(line) > self.MAX_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                self.status = "Malformed header line"
                return
            value = value.strip()
            self._items.append((name, value))
            self._first.setdefault(name.lower(), value)
        self.status = "Too many headers"

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    getheader = get

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._items = [item for item in self._items if item[0].lower() != lowered]
        self._first.pop(lowered, None)

    @property
    def headers(self) -> Any:
        return (f"{key}: {value}\r\n" for key, value in self._items)

    @property
    def typeheader(self) -> Any:
        return self.get("content-type")


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
    _session: Any = None
    _run_session: Callable[[Any], None] | None = None

    def handle(self) -> None:
        # Answers go out in one write; without NODELAY a delayed ACK stalls keep-alive peers.
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().handle()

    def run_application(self) -> None:
        self._session = None
        self.environ[UPGRADE_KEY] = self._upgrade
        pywsgi.WSGIHandler.run_application(self)
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
        # The session keeps its own descriptor: pywsgi closes the handler's socket when this
        # greenlet ends, and with it the request's objects and read buffer.
        own = gevent.socket.socket(fileno=os.dup(self.socket.fileno()))
        self._session = make_session(own, leftover)
        self._run_session = run

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        # The request target as sent: request-bound signatures cover it byte for byte
        # (PATH_INFO is percent-decoded). gunicorn's name for it.
        environ["RAW_URI"] = self.path
        return environ

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

    def log_request(self) -> None:
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(redact(self.format_request()))

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        if self._session is not None:
            return lambda data: None
        return super().start_response(status, headers, exc_info)

    def process_result(self) -> None:
        if self._session is not None:
            return
        super().process_result()


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
