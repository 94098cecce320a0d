"""Instructions per message of the in-process publish path, counted by valgrind.

What one message of a ``POST /message`` of 20 to 20 channels costs below HTTP: the JSON
body decoded, the per-call limits, the fast-path schema, ``operations.publish_messages``
(the memory engine, the hub), the flush to 1000 WebSocket sessions on socket pairs, the
JSON answer. Time on a shared machine varies by tens of percent from run to run; valgrind's
count of user-space instructions does not (hash seed fixed), so two versions of the code
compare within a fraction of a percent:

    .venv/bin/python bench/publish_path.py            # this tree's count
    .venv/bin/python bench/publish_path.py --posts 300 --tree /some/other/checkout

It runs the path twice under valgrind (none, then --posts POSTs) and divides the
difference by the messages sent, so that start-up and setup cancel out. The kernel's share
of a send is not counted (valgrind sees user space only).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOCKETS = 1000
BATCH = 20


def run_path(posts: int) -> None:
    """The measured side: setup, then `posts` bodies through the path."""
    import gc
    import resource
    import socket
    import time

    # Two descriptors per socket pair: more than the usual soft limit of 1024.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    from gevent import monkey

    monkey.patch_all()
    from channelstream import jsonenc, operations
    from channelstream.delivery.attach import attach
    from channelstream.delivery.hub import Hub
    from channelstream.engine.memory import MemoryEngine
    from channelstream.realtime.websocket import WebSocketSession
    from channelstream.settings import parse_settings
    from channelstream.state import State
    from channelstream.views.call_limits import check_messages
    from channelstream.views.helpers import fast_messages

    settings = parse_settings({"channelstream.environment": "development"}, environ={})
    flushes: list = []  # type: ignore[type-arg]
    hub = Hub(schedule=flushes.append)
    engine = MemoryEngine(settings)
    state = State(settings=settings, engine=engine, hub=hub)
    engine.start(state.node)
    readers = []
    for i in range(SOCKETS):
        conn, _ = operations.connect(
            state,
            username=f"u{i}",
            conn_id=None,
            channels=[f"c{i}"],
            channel_configs={},
            fresh_user_state={},
            user_state={},
            state_public_keys=None,
        )
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        readers.append(theirs)
        session = WebSocketSession(
            ours, conn_id=conn.conn_id, max_message=1 << 20, max_queued=1 << 24, clock=time.time
        )
        attach(state, conn.conn_id, session, {})
    while flushes:
        flushes.pop()()
    bodies = [
        jsonenc.dumps(
            [
                {
                    "channel": f"c{(k * BATCH + j) % SOCKETS}",
                    "user": "pub",
                    "message": {"text": "x" * 64},
                }
                for j in range(BATCH)
            ]
        )
        for k in range(SOCKETS)
    ]
    # As the server runs (channelstream.server.tune_garbage_collector).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    for k in range(posts):
        body = jsonenc.loads(bodies[k % len(bodies)])
        check_messages(body, settings)
        answer = operations.publish_messages(state, fast_messages(body))
        while flushes:
            flushes.pop()()
        jsonenc.dumps(answer)
        if k % 50 == 49:
            for reader in readers:
                try:
                    while reader.recv(65536):
                        pass
                except BlockingIOError:
                    pass


def count(tree: Path, posts: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--run",
            str(posts),
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise RuntimeError("no instruction count in valgrind's output:\n" + out[-2000:])
    return int(found.group(1).replace(",", ""))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        run_path(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=300, help="POSTs of 20 messages (300)")
    ap.add_argument("--tree", type=Path, default=REPO, help="checkout whose code to count")
    args = ap.parse_args()
    base = count(args.tree, 0)
    total = count(args.tree, args.posts)
    per = (total - base) / (args.posts * BATCH)
    print(f"{args.tree}: {per:,.0f} instructions per message ({args.posts} POSTs of {BATCH})")


if __name__ == "__main__":
    main()
