"""The paste server runner: gevent's pywsgi with a WebSocket-upgrading handler.

``pserve`` imports this module before it loads the application, so patching here comes
before Pyramid creates its thread-locals; ``channelstream/__init__`` imports nothing heavy so
that importing this module does not drag Pyramid in first. Under ``pserve --reload`` hupper
has started threads already, and patching then would break it: we patch later, in ``serve``,
which is fine for development only.
"""

from __future__ import annotations

import hupper  # small and thread-free at import

if not hupper.is_active():
    from gevent import monkey

    monkey.patch_all()

import logging
import os
import re
import signal
import socket
from collections.abc import Callable
from typing import Any

import gevent
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

log = logging.getLogger(__name__)
access_log = logging.getLogger("channelstream.access")

# 0.7 accepted the API signature in ?secret=; it must never reach a log.
_SECRET_PARAM = re.compile(r"([?&;]secret=)[^&;\s\"]*")


def redact(line: str) -> str:
    return _SECRET_PARAM.sub(r"\1***", line)


UPGRADE_KEY = "channelstream.websocket.upgrade"


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
            self._items.append((name, value.strip()))
        self.status = "Too many headers"

    def get(self, name: str, default: Any = None) -> Any:
        lowered = name.lower()
        for key, value in self._items:
            if key.lower() == lowered:
                return value
        return default

    getheader = get

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._items = [item for item in self._items if item[0].lower() != lowered]

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


class _GreenletStack:
    """A list-like stack kept per greenlet, for Pyramid's thread-local manager."""

    def __init__(self) -> None:
        from gevent.local import local

        self._local = local()

    def _stack(self) -> list[Any]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def append(self, item: Any) -> None:
        self._stack().append(item)

    def pop(self) -> Any:
        return self._stack().pop()

    def __getitem__(self, index: Any) -> Any:
        return self._stack()[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self._stack()[index] = value

    def __len__(self) -> int:
        return len(self._stack())


def _rebind_pyramid_threadlocals() -> None:
    """Under --reload, Pyramid made its thread-local manager before we could patch: every
    greenlet would share one request stack. Give the manager a stack kept per greenlet."""
    from pyramid.threadlocal import manager

    manager.stack = _GreenletStack()


# A real-time server keeps many long-lived, mostly acyclic objects (catch-up windows,
# connections); with Python's default thresholds (700, 10, 10) the cycle collector rescans
# them again and again. Measured on channels_1000 (20-message publishes to 1000 channels,
# one subscriber each): 43-45 us of server CPU per message with the defaults, 34-37 us
# with these. Cyclic garbage still gets collected, only less often.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    import gc

    gc.collect()
    gc.freeze()  # what exists at startup (modules, configuration) is never garbage
    gc.set_threshold(*GC_THRESHOLDS)


def make_listener(host: str, port: int, backlog: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # Several worker processes may share the port; the kernel spreads connections.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(backlog)
    listener.setblocking(False)
    return listener


def serve(app: Any, global_conf: dict[str, Any] | None = None, **local_conf: Any) -> None:
    """paste.server_runner: ``use = egg:channelstream#gevent`` in ``[server:main]``."""
    if hupper.is_active():
        from gevent import monkey

        monkey.patch_all()
        _rebind_pyramid_threadlocals()
    from channelstream.realtime.websocket import CLOSE_GOING_AWAY
    from channelstream.settings import parse_listen
    from channelstream.state import get_state

    current = get_state()
    settings = current.settings
    listen = os.environ.get("CHANNELSTREAM_LISTEN")
    if listen is None and ("host" in local_conf or "port" in local_conf):
        listen = f"{local_conf.get('host', '0.0.0.0')}:{local_conf.get('port', 8000)}"
    host, port = parse_listen(listen or settings.listen)
    listener = make_listener(host, port, settings.backlog, settings.reuse_port)
    tune_garbage_collector()
    server = pywsgi.WSGIServer(
        listener, app, handler_class=ChannelstreamHandler, log=None, error_log=log
    )

    def shutdown(*_: Any) -> None:
        log.info("shutting down")
        # Tell attached clients to reconnect (to another node) and resume.
        for local in list(current.hub.connections.values()):
            local.transport.close(CLOSE_GOING_AWAY, "server shutting down")
        gevent.spawn(server.stop, timeout=1)

    gevent.signal_handler(signal.SIGTERM, shutdown)
    gevent.signal_handler(signal.SIGINT, shutdown)
    log.info("channelstream listening on http://%s:%d", host, port)
    print(f"channelstream serving on http://{host}:{port}", flush=True)
    server.serve_forever()
