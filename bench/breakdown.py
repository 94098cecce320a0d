"""Where one connect and one POST /message spend their time, and what one idle socket holds.

    .venv/bin/python bench/breakdown.py                 # ~1 minute; Markdown on stdout
    .venv/bin/python bench/breakdown.py --connects 2000 --messages 5000 --idle 2000

channelstream runs in this process, exactly as ``pserve development.ini`` runs it (the paste
runner's patching, the same handler, server class and collector thresholds), pinned to core
0; a small client in a subprocess on core 1 (stdlib sockets, so its cost is not ours) brings
clients online (signed ``POST /connect`` on a keep-alive connection, then the WebSocket
handshake on a socket of its own, left open) or publishes (``POST /message``, one 64-byte
message to a channel with one attached subscriber, which the client reads).

Each kind of call is measured twice: once plain, for the server CPU per call (``os.times``
of this process over the client's run), and once under cProfile, for the shares of that time
by layer (the functions' own time, grouped by the package they belong to; cProfile inflates
Python calls against C, so read the shares, and the plain figure for the total). Idle memory:
tracemalloc's growth over N idle sockets grouped by file (where it was allocated) and the
objects that appeared, counted by type with their shallow sizes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SECRET = "benchsecret"

# (layer, substrings of a profiled function's file): the first match wins
LAYERS = [
    ("gevent-websocket handshake", ("geventwebsocket",)),
    (
        "HTTP parsing and answering (our server: httptools + http_*.py)",
        (
            "gevent/pywsgi.py",
            "httptools",
            "channelstream/http_",
        ),
    ),
    ("wsproto (WebSocket session framing)", ("wsproto", "h11")),
    ("WebSocket session (channelstream/realtime)", ("channelstream/realtime",)),
    (
        "Pyramid + WebOb (routing, request, response)",
        ("pyramid", "webob", "zope", "venusian", "translationstring"),
    ),
    ("schemas (marshmallow and our fast path)", ("marshmallow", "channelstream/schemas")),
    (
        "signature check (itsdangerous, hmac)",
        (
            "itsdangerous",
            "hmac.py",
            "channelstream/security.py",
            "channelstream/request_signing.py",
        ),
    ),
    ("engine (memory)", ("channelstream/engine",)),
    ("delivery hub", ("channelstream/delivery",)),
    (
        "views and operations",
        (
            "channelstream/views",
            "channelstream/operations.py",
            "channelstream/presenters.py",
            "channelstream/legacy.py",
        ),
    ),
    ("JSON", ("json/", "channelstream/jsonenc.py", "orjson")),
    (
        "limits, state, model",
        (
            "channelstream/limits",
            "channelstream/state.py",
            "channelstream/model",
            "channelstream/throttle.py",
        ),
    ),
    ("channelstream, other", ("channelstream/",)),
    ("gevent (hub, sockets, timeouts, greenlets)", ("gevent", "greenlet")),
    ("Python stdlib", ("/lib/python",)),
]


def layer_of(filename: str, func: str) -> str:
    if filename == "~":
        # C functions cProfile sees by name only
        if any(k in func for k in ("send", "recv", "accept", "shutdown", "setsockopt")):
            return "socket system calls"
        return "C builtins (" + func.split("'")[1] + ")" if "'" in func else "C builtins"
    for name, keys in LAYERS:
        if any(k in filename for k in keys):
            return name
    return "other: " + filename


# ---------------------------------------------------------------------------------------------
# the client (a subprocess, core 1)


def signature() -> str:
    from itsdangerous import TimestampSigner

    return TimestampSigner(SECRET).sign("channelstream").decode()


def read_answer(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes, bytes]:
    """One HTTP answer with a Content-Length (or none): (head, body, rest)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    return head, rest[:length], rest[length:]


def post(sock: socket.socket, port: int, path: str, body: object) -> bytes:
    data = json.dumps(body).encode()
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"x-channelstream-secret: {signature()}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        + data
    )
    head, answer, _ = read_answer(sock, b"")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head[:200]!r} {answer[:200]!r}")
    return answer


def open_ws(port: int, conn_id: str) -> socket.socket:
    ws = socket.create_connection(("127.0.0.1", port))
    ws.sendall(
        (
            f"GET /ws?conn_id={conn_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = ws.recv(4096)
        if not data:
            raise ConnectionError("closed during the handshake")
        buf += data
    if not buf.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"/ws: {buf[:200]!r}")
    return ws


def client(mode: str, n: int, port: int, tag: str) -> None:
    api = socket.create_connection(("127.0.0.1", port))
    api.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    kept = []
    if mode == "connect":
        print("go", flush=True)
        t0 = time.perf_counter()
        for i in range(n):
            answer = post(
                api,
                port,
                "/connect",
                {"username": f"bd_{tag}_{i}", "channels": [f"bd_ch{i % 1000}"]},
            )
            kept.append(open_ws(port, json.loads(answer)["conn_id"]))
        print("done", round(time.perf_counter() - t0, 3), flush=True)
    elif mode == "channels":
        # 1000 channels x 1 subscriber; each POST /message carries 20 messages to 20 channels
        import selectors

        sel = selectors.DefaultSelector()
        for i in range(1000):
            answer = post(
                api, port, "/connect", {"username": f"bd_{tag}_{i}", "channels": [f"bd_{tag}_c{i}"]}
            )
            ws = open_ws(port, json.loads(answer)["conn_id"])
            ws.setblocking(False)
            sel.register(ws, selectors.EVENT_READ)
            kept.append(ws)

        def drain_all() -> None:
            while True:
                for key, _ in sel.select():
                    try:
                        key.fileobj.recv(65536)  # type: ignore[union-attr]
                    except OSError:
                        pass

        threading.Thread(target=drain_all, daemon=True).start()
        print("go", flush=True)
        t0 = time.perf_counter()
        for k in range(n):
            body = [
                {
                    "channel": f"bd_{tag}_c{(k * 20 + j) % 1000}",
                    "user": "bd_pub",
                    "message": {"text": "x" * 64},
                }
                for j in range(20)
            ]
            post(api, port, "/message", body)
        print("done", round(time.perf_counter() - t0, 3), flush=True)
    elif mode == "plain":
        # POST /message only, no subscriber (against the bare floor servers)
        body = [{"channel": "bd_msg", "user": "bd_pub", "message": {"text": "x" * 64}}]
        print("go", flush=True)
        t0 = time.perf_counter()
        for _ in range(n):
            post(api, port, "/message", body)
        print("done", round(time.perf_counter() - t0, 3), flush=True)
    else:
        answer = post(api, port, "/connect", {"username": f"bd_sub_{tag}", "channels": ["bd_msg"]})
        ws = open_ws(port, json.loads(answer)["conn_id"])

        def drain() -> None:
            try:
                while ws.recv(65536):
                    pass
            except OSError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        body = [{"channel": "bd_msg", "user": "bd_pub", "message": {"text": "x" * 64}}]
        print("go", flush=True)
        t0 = time.perf_counter()
        for _ in range(n):
            post(api, port, "/message", body)
        print("done", round(time.perf_counter() - t0, 3), flush=True)
        kept.append(ws)
    sys.stdin.readline()  # the server has taken its measurements: close
    for s in kept:
        s.close()
    api.close()


# ---------------------------------------------------------------------------------------------
# the server side (this process, core 0)


def start_server(port: int):  # type: ignore[no-untyped-def]
    os.environ.update(
        {
            "CHANNELSTREAM_LISTEN": f"127.0.0.1:{port}",
            "CHANNELSTREAM_SECRET": SECRET,
            "CHANNELSTREAM_LOG_LEVEL": "WARNING",
            "CHANNELSTREAM_UPGRADES_PER_SECOND_PER_ADDRESS": "0",
        }
    )
    # the paste runner first: it patches gevent before Pyramid makes its thread-locals
    runner = importlib.import_module("channelstream.server")
    from pyramid.paster import get_app

    from channelstream.http_request import HttpLimits
    from channelstream.http_server import ChannelstreamServer
    from channelstream.runtime import runtime_served

    app = get_app(str(REPO / "development.ini"))
    runtime = runtime_served(app)
    runtime.start()
    settings = runtime.state.settings
    listener = runner.make_listener("127.0.0.1", port, settings.backlog, False)
    runner.tune_garbage_collector()
    limits = HttpLimits(
        header_timeout=settings.header_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        body_timeout=settings.body_timeout,
    )
    server = ChannelstreamServer(listener, app, http_limits=limits)
    server.start()
    return server


class Client:
    """One client run: started, measured between its "go" and "done", then closed."""

    def __init__(self, mode: str, n: int, port: int, tag: str) -> None:
        self.proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                sys.executable,
                __file__,
                "--client",
                mode,
                str(n),
                str(port),
                tag,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.n = n

    def wait_line(self, word: str) -> str:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith(word):
            raise RuntimeError(f"client said {line!r}, expected {word}")
        return line

    def close(self) -> None:
        self.proc.stdin.write("close\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        self.proc.wait(timeout=60)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def measured(mode: str, n: int, port: int, tag: str, profile: bool):  # type: ignore[no-untyped-def]
    import cProfile

    c = Client(mode, n, port, tag)
    c.wait_line("go")
    # CPU time, not wall time: a greenlet waiting on its socket must not count
    prof = cProfile.Profile(time.process_time) if profile else None
    c0 = cpu()
    if prof:
        prof.enable()
    wall = float(c.wait_line("done").split()[1])
    if prof:
        prof.disable()
    used = cpu() - c0
    c.close()
    return used, wall, prof


def layers(prof) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    import pstats

    st = pstats.Stats(prof)
    total = 0.0
    by: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        key = layer_of(filename.replace("\\", "/"), func)
        by[key] = by.get(key, 0.0) + tt
        total += tt
    return sorted(((k, v / total) for k, v in by.items()), key=lambda x: -x[1])


def top_functions(prof, k: int = 12) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    import pstats

    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), v in st.stats.items():  # type: ignore[attr-defined]
        short = filename.split("site-packages/")[-1].split(str(REPO) + "/")[-1]
        rows.append((f"{short}:{line} {func}", v[2] / total))
    return sorted(rows, key=lambda x: -x[1])[:k]


def idle_memory(n: int, port: int) -> dict:  # type: ignore[type-arg]
    import gc
    import tracemalloc

    def by_type() -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for o in gc.get_objects():
            t = type(o).__qualname__
            c, s = out.get(t, (0, 0))
            out[t] = (c + 1, s + sys.getsizeof(o))
        return out

    gc.collect()
    rss0 = rss_kib()
    types0 = by_type()
    tracemalloc.start(1)
    snap0 = tracemalloc.take_snapshot()
    c = Client("connect", n, port, "idle")
    c.wait_line("go")
    c.wait_line("done")
    import gevent

    gevent.sleep(2)  # the last sessions settle
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    traced = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    files = [
        (
            s.traceback[0].filename.split("site-packages/")[-1].split(str(REPO) + "/")[-1],
            s.size_diff / n,
            s.count_diff / n,
        )
        for s in snap1.compare_to(snap0, "filename")[:12]
    ]
    lines = [
        (
            f"{s.traceback[0].filename.split('site-packages/')[-1].split(str(REPO) + '/')[-1]}:"
            f"{s.traceback[0].lineno}",
            s.size_diff / n,
            s.count_diff / n,
        )
        for s in snap1.compare_to(snap0, "lineno")[:15]
    ]
    del snap0, snap1  # their traces are tuples: they must not count below
    tracemalloc.stop()
    gc.collect()
    rss1 = rss_kib()
    types1 = by_type()
    grown = []
    for t, (cnt, size) in types1.items():
        c0, s0 = types0.get(t, (0, 0))
        if cnt - c0 >= n // 2:
            grown.append((t, (cnt - c0) / n, (size - s0) / n))
    grown.sort(key=lambda x: -x[2])
    c.close()
    return {
        "n": n,
        "rss_kib_per_socket": (rss1 - rss0) / n,
        "traced_bytes_per_socket": traced / n,
        "files": files,
        "lines": lines,
        "types": grown[:15],
    }


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip()


def floor(n: int) -> list[str]:
    """What the design card itself costs per request: the same POST /message client against
    a bare WSGI application, and against a bare Pyramid application (one route, one view
    answering a JSON body), served by gevent's pywsgi and by our server, in this process,
    on core 0."""
    from gevent import pywsgi
    from pyramid.config import Configurator
    from pyramid.response import Response

    def bare(environ, start_response):  # type: ignore[no-untyped-def]
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"[]"]

    def view(request):  # type: ignore[no-untyped-def]
        request.body  # noqa: B018 - read it, as a real view does
        return Response(body=b"[]", content_type="application/json")

    config = Configurator()
    config.add_route("message", "/message", request_method="POST")
    config.add_view(view, route_name="message")
    pyramid_app = config.make_wsgi_app()
    rows = [
        "### The floor: the HTTP server and Pyramid alone",
        "",
        "The same one-at-a-time `POST /message` client against a bare WSGI application "
        "(reads the body, answers `[]`) and a bare Pyramid application (one route, one "
        "view answering `[]`), in this process, served by gevent's stock pywsgi and by our "
        "server (`channelstream/http_connection.py`: httptools' parser under a gevent "
        "StreamServer, answers in one write, TCP_NODELAY):",
        "",
        "| server | server CPU per request |",
        "| --- | --: |",
    ]
    # channelstream's own POST /message without a subscriber, for comparison
    rows_cs = measured("plain", n, CHANNELSTREAM_PORT[0], "floorcs", False)[0]
    from channelstream.http_request import HttpLimits
    from channelstream.http_server import ChannelstreamServer

    def ours(port: int, app: Any) -> Any:
        return ChannelstreamServer(("127.0.0.1", port), app, http_limits=HttpLimits())

    def stock(port: int, app: Any) -> Any:
        return pywsgi.WSGIServer(("127.0.0.1", port), app, log=None)

    for name, make, app in (
        ("gevent's stock pywsgi + a bare WSGI callable", stock, bare),
        ("our server + a bare WSGI callable", ours, bare),
        ("our server + Pyramid (one route, one view)", ours, pyramid_app),
    ):
        port = free_port()
        server = make(port, app)
        server.start()
        measured("plain", 300, port, "floorwarm", False)
        used, _wall, _ = measured("plain", n, port, "floor", False)
        server.stop()
        rows.append(f"| {name} | {used * 1e6 / n:.0f} us |")
    rows.append(
        f"| channelstream, the same POST /message (no subscriber) | {rows_cs * 1e6 / n:.0f} us |"
    )
    rows.append("")
    return rows


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


CHANNELSTREAM_PORT = [0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(args: argparse.Namespace) -> str:
    os.sched_setaffinity(0, {0})
    port = free_port()
    start_server(port)
    CHANNELSTREAM_PORT[0] = port
    # warm up: imports, caches, the first channels
    measured("connect", 300, port, "warm", False)
    measured("message", 500, port, "warm", False)
    out = [
        f"Measured by `.venv/bin/python bench/breakdown.py --connects {args.connects} "
        f"--messages {args.messages} --idle {args.idle}` (server on core 0, client on core 1; "
        "one call at a time, so the per-request costs are not shared by batching).",
        "",
    ]
    for mode, n, title in (
        (
            "connect",
            args.connects,
            "One client brought online (POST /connect + WebSocket handshake)",
        ),
        ("message", args.messages, "One POST /message (one message, one subscriber attached)"),
        (
            "channels",
            args.messages // 4,
            "One message of a POST /message of 20 to 20 channels, "
            "one subscriber each (1000 channels)",
        ),
    ):
        if mode not in args.modes.split(","):
            continue
        used, wall, _ = measured(mode, n, port, mode + "p", False)
        _, _, prof = measured(mode, n, port, mode + "q", True)
        if args.dump:
            prof.dump_stats(f"{args.dump}-{mode}.pstats")
        per = used * 1e6 / n / (20 if mode == "channels" else 1)
        out += [
            f"### {title}",
            "",
            f"Server CPU per call, unprofiled: **{per:.0f} us** ({n} calls in {wall:.2f} s, "
            f"{n / wall:.0f}/s, one at a time).",
            "",
            "| layer (own time of its functions, under cProfile) | share | us per call |",
            "| --- | --: | --: |",
        ]
        for name, share in layers(prof):
            if share >= 0.005:
                out.append(f"| {name} | {share:.1%} | {share * per:.1f} |")
        out += ["", "Hottest functions (own time):", "", "| function | share |", "| --- | --: |"]
        for name, share in top_functions(prof):
            out.append(f"| `{name}` | {share:.1%} |")
        out.append("")
    if "floor" in args.modes.split(","):
        out += floor(args.messages)
    if not args.idle:
        return "\n".join(out)
    mem = idle_memory(args.idle, port)
    out += [
        f"### What one idle WebSocket holds ({mem['n']} sockets open, idle)",
        "",
        f"RSS growth per socket: **{mem['rss_kib_per_socket']:.2f} KiB** (with tracemalloc "
        f"running, which adds its own); Python allocations traced per socket: "
        f"**{mem['traced_bytes_per_socket'] / 1024:.2f} KiB**. The rest of the RSS is the "
        "kernel-side socket and what the allocator keeps.",
        "",
        "| allocated in (file) | bytes per socket | blocks per socket |",
        "| --- | --: | --: |",
    ]
    for f, b, k in mem["files"]:
        out.append(f"| `{f}` | {b:.0f} | {k:.2f} |")
    out += [
        "",
        "| allocated at (line) | bytes per socket | blocks per socket |",
        "| --- | --: | --: |",
    ]
    for f, b, k in mem["lines"]:
        out.append(f"| `{f}` | {b:.0f} | {k:.2f} |")
    out += [
        "",
        "Objects that appeared (tracked by the collector), per socket:",
        "",
        "| type | objects per socket | shallow bytes per socket |",
        "| --- | --: | --: |",
    ]
    for t, k, b in mem["types"]:
        out.append(f"| `{t}` | {k:.2f} | {b:.0f} |")
    out.append("")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connects", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--idle", type=int, default=2000, help="idle sockets (0: no memory part)")
    ap.add_argument(
        "--modes",
        default="connect,message,channels,floor",
        help="which calls to profile (floor: the HTTP server and Pyramid alone)",
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="also write bench/breakdown.md, which bench/run.py appends to BENCHMARKS.md",
    )
    ap.add_argument(
        "--dump",
        metavar="PREFIX",
        help="also write PREFIX-connect.pstats and "
        "PREFIX-message.pstats (pstats files, for a closer look)",
    )
    args = ap.parse_args()
    text = report(args)
    print(text)
    if args.write:
        (BENCH / "breakdown.md").write_text(
            f"## Where the time goes: one connect, one POST /message, one idle socket\n\n"
            "Written by `bench/breakdown.py --write` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            f" (commit `{commit()}`); `bench/run.py` appends it here.\n\n{text}"
        )
    os._exit(0)  # the server's greenlets would keep the hub alive


if __name__ == "__main__":
    main()
