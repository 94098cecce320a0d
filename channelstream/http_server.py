"""The listening side: gevent's StreamServer accepting connections for ``HttpConnection``
(our HTTP/1.1 server, httptools' parser under the WSGI application), and an answer when
the process runs out of file descriptors.

Without descriptors, ``accept`` fails and the connection waits in the kernel's backlog: the
client has connected but hears nothing (or, before this, got a ``101`` and then a dead
socket when the upgrade could not duplicate the descriptor). We keep one descriptor in
reserve; when ``accept`` fails for lack of descriptors, the reserve is released to accept
one waiting connection, answer it ``503`` with ``Retry-After``, and close it, and is taken
again. A client that tries again once others have left is served: nothing stays broken.

It imports gevent but does not monkey-patch (``channelstream.server`` does, first).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import socket
import sys
import time
import weakref
from typing import Any

import gevent
from gevent.server import StreamServer

from channelstream import jsonenc
from channelstream.http_connection import HttpConnection
from channelstream.http_request import HttpLimits
from channelstream.logs.access import AccessLog

log = logging.getLogger(__name__)

OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
# While the reserve is in use (a refused client being answered), accepting pauses this long.
PAUSE = 0.05
# Seconds a refused client gets to take the 503 before its socket is closed.
REFUSE_LINGER = 1.0
# At most one warning in this many seconds while descriptors stay exhausted.
WARN_EVERY = 10.0


def _busy_answer() -> bytes:
    body = jsonenc.dumps({"request": "Server out of connections, try again"})
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body


BUSY_ANSWER = _busy_answer()


class ChannelstreamServer(StreamServer):
    """Serves ``application`` (WSGI) on ``listener``, one greenlet per connection."""

    def __init__(self, listener: Any, application: Any, *, http_limits: HttpLimits, **kw: Any):
        super().__init__(listener, **kw)
        self.application = application
        self.http_limits = http_limits
        # What every request's environ starts from (PEP 3333's fixed keys).
        self.environ_base: dict[str, Any] = {}
        # Sockets a WebSocket session took over while their greenlet was serving them.
        self.handed_over: weakref.WeakSet[Any] = weakref.WeakSet()
        self._reserve: io.FileIO | None = _take_reserve()
        self._answering = False  # the reserve's descriptor is a refused client's now
        self._warned_at = 0.0
        self.refused = 0
        # Set by the runner unless channelstream.access_log is off (logs.access).
        self.access_log: AccessLog | None = None

    def init_socket(self) -> None:
        super().init_socket()
        host, port = self.address[:2] if isinstance(self.address, tuple) else ("", 0)
        self.environ_base = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "channelstream",
            "SERVER_NAME": host or "localhost",
            "SERVER_PORT": str(port),
            "SCRIPT_NAME": "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            # Our wsgi.input ends where the body ends, chunked or not (request_body).
            "wsgi.input_terminated": True,
        }

    def handle(self, sock: Any, address: Any) -> None:
        HttpConnection(sock, address, self).serve()

    def do_close(self, sock: Any, *args: Any) -> None:
        """After ``handle``: close the socket, unless a WebSocket session owns it now."""
        if sock in self.handed_over:
            self.handed_over.discard(sock)
            return
        sock.close()

    def do_read(self) -> Any:
        try:
            return super().do_read()
        except OSError as exc:
            if exc.errno not in OUT_OF_DESCRIPTORS:
                raise
            self._refuse_one()
            return None

    def _refuse_one(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("out of file descriptors: new connections get 503 (raise ulimit -n)")
        if self._reserve is None and not self._answering:
            # Taking it again failed when the last refusal ended: try once more.
            self._reserve = _take_reserve()
        if self._reserve is None:
            # The reserve is answering someone: leave the rest in the backlog a moment.
            self.stop_accepting()
            gevent.spawn_later(PAUSE, self._resume_accepting)
            return
        self._reserve.close()
        self._reserve = None
        try:
            fd, _address = self.socket._accept()
        except OSError:
            self._reserve = _take_reserve()
            return
        self.refused += 1
        self._answering = True
        gevent.spawn(self._answer_busy, fd)

    def _answer_busy(self, fd: int) -> None:
        sock = gevent.socket.socket(fileno=fd)
        try:
            sock.sendall(BUSY_ANSWER)
            sock.shutdown(socket.SHUT_WR)
            # Read what the client sent, so that closing does not reset the connection
            # before the client has read the answer.
            with gevent.Timeout(REFUSE_LINGER, False):
                while sock.recv(65536):
                    pass
        except OSError:
            pass
        finally:
            sock.close()
            self._answering = False
            self._reserve = _take_reserve()

    def _resume_accepting(self) -> None:
        if self.started:
            self.start_accepting()


def _take_reserve() -> io.FileIO | None:
    """A descriptor to give back when needed. A file object, because closing it frees the
    descriptor at once: gevent's patched ``os.close`` defers that to the next loop turn."""
    try:
        return io.FileIO(os.devnull, "rb")
    except OSError:
        return None
