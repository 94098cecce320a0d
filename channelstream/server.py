"""The paste server runner: our HTTP/1.1 server (httptools under gevent, ``http_server``)
serving the Pyramid application, WebSocket upgrades decided by its /ws view.

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
import signal
import socket
import sys
from typing import Any, NoReturn

import gevent

from channelstream.http_request import HttpLimits
from channelstream.http_server import ChannelstreamServer

log = logging.getLogger(__name__)


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


def listen_address(listen: str, environ: Any, local_conf: dict[str, Any]) -> tuple[str, str]:
    """Where to listen, and which setting says so: the environment (already in
    ``channelstream.listen``), else ``[server:main]``'s host and port, else the ini's
    ``channelstream.listen``."""
    from channelstream.settings import environ_listen

    if environ_listen(environ) is None and ("host" in local_conf or "port" in local_conf):
        host, port = local_conf.get("host", "0.0.0.0"), local_conf.get("port", 8000)
        return f"{host}:{port}", "[server:main] host and port"
    return listen, "channelstream.listen"


def refuse_to_start(message: str) -> NoReturn:
    """One line on stderr, exit status 1. Not SystemExit: pserve catches that around the
    runner and exits 0, saying "Exiting ... (-v to see traceback)"."""
    sys.stdout.flush()
    sys.stderr.write(f"channelstream: {message}\n")
    sys.stderr.flush()
    os._exit(1)


def listen_or_exit(
    listen: str, environ: Any, local_conf: dict[str, Any], backlog: int, reuse_port: bool
) -> tuple[socket.socket, str, int]:
    """The listening socket, or one line naming the address and the cause, and exit 1."""
    from channelstream.errors import ConfigurationError
    from channelstream.settings import parse_listen

    address, source = listen_address(listen, environ, local_conf)
    try:
        host, port = parse_listen(address)
    except ConfigurationError as exc:
        refuse_to_start(f"{source}: {exc}")
    try:
        return make_listener(host, port, backlog, reuse_port), host, port
    except OSError as exc:
        refuse_to_start(f"cannot listen on {address} ({source}): {exc.strerror or exc}")


def serve(app: Any, global_conf: dict[str, Any] | None = None, **local_conf: Any) -> None:
    """paste.server_runner: ``use = egg:channelstream#gevent`` in ``[server:main]``."""
    if hupper.is_active():
        from gevent import monkey

        monkey.patch_all()
        _rebind_pyramid_threadlocals()
    from channelstream.realtime.websocket import CLOSE_GOING_AWAY
    from channelstream.runtime import runtime_served

    runtime = runtime_served(app)
    runtime.start()  # started already when the application was created; a no-op then
    current = runtime.state
    settings = current.settings
    listener, host, port = listen_or_exit(
        settings.listen, os.environ, local_conf, settings.backlog, settings.reuse_port
    )
    tune_garbage_collector()
    limits = HttpLimits(
        header_timeout=settings.header_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        body_timeout=settings.body_timeout,
    )
    server = ChannelstreamServer(listener, app, http_limits=limits)
    if settings.access_log != "off":
        from channelstream.logs.access import AccessLog

        server.access_log = AccessLog(settings.access_log, gevent.spawn)

    def shutdown(*_: Any) -> None:
        log.info("shutting down")
        # Tell attached clients to reconnect (to another node) and resume.
        current.hub.close_all(CLOSE_GOING_AWAY, "server shutting down")
        if runtime.webhooks is not None:
            # Let go of the webhook's lease: another node sends at once, not after it lapses.
            runtime.webhooks.stop()
        gevent.spawn(server.stop, timeout=1)

    gevent.signal_handler(signal.SIGTERM, shutdown)
    gevent.signal_handler(signal.SIGINT, shutdown)
    log.info("channelstream listening on http://%s:%d", host, port)
    if settings.log_format != "json":  # there, every line is JSON: the log line says it
        print(f"channelstream serving on http://{host}:{port}", flush=True)
    server.serve_forever()
