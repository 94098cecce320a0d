"""The floor: our HTTP server and Pyramid answering the load generator, with no channelstream.

``python bench/floor_app.py --port N`` serves, with ``channelstream.http_server``'s
``ChannelstreamServer`` (httptools under gevent, monkey-patched first as
``channelstream.server`` does) and the same garbage collector tuning, a bare Pyramid
``Configurator`` with exactly the calls ``bench/loadgen/loadgen.js`` makes in its
"channelstream" protocol:

- ``POST /connect`` ``{"username", "channels"}``: the body read from ``wsgi.input`` in one
  read (as channelstream reads it) and decoded with orjson, a uuid4 made and remembered
  with its channels; answers ``{"conn_id", "username", "channels"}`` (loadgen reads
  ``conn_id`` only).
- ``GET /ws?conn_id=...``: a Pyramid view checks the upgrade headers (Upgrade, version 13,
  a 16-byte base64 key) and the conn_id, then upgrades through our server's hook
  (``environ[UPGRADE_KEY](make_session, run)``, as ``ClientViews.websocket`` does). ``run``
  registers the socket under the connection's channels and reads, in the connection's
  greenlet, what the client sends until it closes.
- ``POST /message`` (a JSON list of ``{channel, user, message}``): for each item, one
  orjson-encoded message object ``{"type": "message", "channel", "user", "message"}``
  (what loadgen's Tracker checks: a JSON array of objects with ``type`` "message" and the
  ``"~seq~time~..."`` text inside ``message.text``), one WebSocket text frame
  ``[<object>]``, one ``sendall`` to each socket of its channel; answers 200 with the list
  of those objects.

So it does the real socket work: every request parsed by our server, routed by Pyramid to
a view, every frame sent to a real socket. What it leaves out, i.e. everything channelstream
does on top of that: signature checking (``x-channelstream-secret`` is not looked at) and
``allow_posting_from``; schemas and validation of bodies beyond "decodes as JSON"; users,
user state, presence, channel configuration and ``channels_info`` in the /connect answer;
message uuids, timestamps, history and catch-up windows; resume; the per-socket send
queue and slow-consumer handling (``sendall`` blocks the publishing request instead);
parsing the client's frames (they are read and discarded, including pings and closes:
no pong, no close handshake); heartbeats and ping timeouts; limits (connections, upgrades,
frame rates); metrics, access log, webhooks, Redis. No /info, /admin or other route
either: loadgen does not call them in the scenarios the floor runs (``idle_10k``,
``channels_1000``, ``fanout_*``).

``--bare-wsgi`` serves the same calls with a plain WSGI function instead of Pyramid, to
tell Pyramid's share (``bench/run.py --servers ...,floor_bare``).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import signal  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent  # noqa: E402
import orjson  # noqa: E402
from pyramid.config import Configurator  # noqa: E402
from pyramid.response import Response  # noqa: E402

from channelstream.http_request import HttpLimits  # noqa: E402
from channelstream.http_server import ChannelstreamServer  # noqa: E402
from channelstream.realtime.frames import array_frame  # noqa: E402
from channelstream.realtime.websocket import UPGRADE_KEY, valid_handshake_key  # noqa: E402
from channelstream.server import make_listener, tune_garbage_collector  # noqa: E402

READ_SIZE = 65536

# conn_id -> its channels (from /connect); channel -> the open sockets subscribed to it
CONNECTIONS: dict[str, list[str]] = {}
SUBSCRIBERS: dict[str, set[Any]] = {}


def json_answer(body: bytes, status: int = 200) -> Response:
    return Response(body=body, status=status, content_type="application/json", charset=None)


# -- the work, shared by the Pyramid views and the bare WSGI application (--bare-wsgi)


def do_connect(raw: bytes) -> bytes:
    body = orjson.loads(raw)
    channels = body.get("channels") or []
    conn_id = str(uuid.uuid4())
    CONNECTIONS[conn_id] = channels
    return orjson.dumps(
        {"conn_id": conn_id, "username": body.get("username"), "channels": channels}
    )


def do_message(raw: bytes) -> tuple[int, bytes]:
    items = orjson.loads(raw)
    if not isinstance(items, list):
        return 400, b'{"request": "a list of messages"}'
    bodies = []
    for item in items:
        channel = item.get("channel")
        body = orjson.dumps(
            {
                "type": "message",
                "channel": channel,
                "user": item.get("user"),
                "message": item.get("message"),
            }
        )
        bodies.append(body)
        socks = SUBSCRIBERS.get(channel)
        if socks:
            frame = array_frame(body)  # the frame [<body>]
            for sock in list(socks):
                try:
                    sock.sendall(frame)
                except OSError:
                    socks.discard(sock)
    return 200, b"[" + b",".join(bodies) + b"]"


class Session:
    """What the upgrade hands over: the raw socket and the conn_id."""

    __slots__ = ("conn_id", "sock")

    def __init__(self, sock: Any, conn_id: str) -> None:
        self.sock = sock
        self.conn_id = conn_id


def serve_socket(session: Session) -> None:
    """Runs in the connection's greenlet once the view has returned."""
    sock = session.sock
    channels = CONNECTIONS.get(session.conn_id, [])
    for channel in channels:
        SUBSCRIBERS.setdefault(channel, set()).add(sock)
    try:
        while sock.recv(READ_SIZE):
            pass  # the client's frames (heartbeats): read and dropped
    except OSError:
        pass
    finally:
        for channel in channels:
            socks = SUBSCRIBERS.get(channel)
            if socks is not None:
                socks.discard(sock)
                if not socks:
                    del SUBSCRIBERS[channel]
        sock.close()


def do_upgrade(environ: dict[str, Any], conn_id: str) -> tuple[int, bytes] | None:
    """Check the handshake and hand the socket over; None once upgraded, else the error."""
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return 400, b'{"request": "expected a WebSocket upgrade"}'
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
        return 426, b'{"request": "Sec-WebSocket-Version: 13"}'
    if not valid_handshake_key(environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()):
        return 400, b'{"request": "bad Sec-WebSocket-Key"}'
    if conn_id not in CONNECTIONS:
        return 400, b'{"conn_id": "unknown connection"}'

    def make_session(sock: Any, leftover: bytes) -> Session:
        return Session(sock, conn_id)  # leftover: the client's first frames, dropped

    environ[UPGRADE_KEY](make_session, serve_socket)
    return None


# -- Pyramid's views


def body_of(environ: dict[str, Any]) -> bytes:
    """One read of the raw input, as channelstream's request_body does (WebOb's
    request.body would wrap it in two more readers and copy it)."""
    return environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))


def connect(request: Any) -> Response:
    return json_answer(do_connect(body_of(request.environ)))


def message(request: Any) -> Response:
    status, body = do_message(body_of(request.environ))
    return json_answer(body, status)


def websocket(request: Any) -> Response:
    error = do_upgrade(request.environ, request.GET.get("conn_id", ""))
    if error is not None:
        return json_answer(error[1], error[0])
    return Response(status=101)


def make_app() -> Any:
    config = Configurator()
    config.add_route("message", "/message")
    config.add_view(message, route_name="message", request_method="POST")
    config.add_route("ws", "/ws")
    config.add_view(websocket, route_name="ws", request_method="GET")
    config.add_route("connect", "/connect")
    config.add_view(connect, route_name="connect", request_method="POST")
    return config.make_wsgi_app()


# -- --bare-wsgi: the same calls without Pyramid (a dict lookup on method and path), to tell
# what Pyramid's share of the floor is

STATUS = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found", 426: "426 Upgrade Required"}


def bare_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if method == "POST" and path in ("/message", "/connect"):
        raw = body_of(environ)
        status, body = do_message(raw) if path == "/message" else (200, do_connect(raw))
    elif method == "GET" and path == "/ws":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        error = do_upgrade(environ, (query.get("conn_id") or [""])[0])
        if error is None:
            start_response("101 Switching Protocols", [])
            return []
        status, body = error
    else:
        status, body = 404, b'{"request": "not found"}'
    start_response(
        STATUS[status],
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument(
        "--bare-wsgi",
        action="store_true",
        help="serve the same calls without Pyramid: a plain WSGI function (for comparison)",
    )
    args = ap.parse_args()
    app = bare_app if args.bare_wsgi else make_app()
    listener = make_listener(args.host, args.port, 2048, False)
    tune_garbage_collector()  # channelstream.server's thresholds, and gc.freeze()
    server = ChannelstreamServer(listener, app, http_limits=HttpLimits())
    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(server.stop, timeout=1))
    gevent.signal_handler(signal.SIGINT, lambda: gevent.spawn(server.stop, timeout=1))
    print(f"floor serving on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
