"""What the admin's trends cost a node: one sample (channelstream/trends.py), taken once a
second, with many local connections and channels on the memory engine, and the size of
the panel's poll beside admin.json's.

    flock /tmp/bench.lock .venv/bin/python bench/trends_sample.py [--connections N] [--channels N]

In-process and single-threaded: the figure is the time of one sample (the median of many),
i.e. the part of each second the sampler takes from the event loop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channelstream import dashboard, operations, presenters
from channelstream.schemas.messages import MessageSchema
from channelstream.trends import Trends
from tests.support.memory import RecordingTransport, connect, listen, make_state


class LongPoll(RecordingTransport):
    kind = "longpoll"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=1_000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    state = make_state(max_history_size=str(args.history))
    config = {"store_history": True, "history_size": args.history}
    names = [f"ch{n}" for n in range(args.channels)]
    for start in range(0, len(names), 500):
        part = names[start : start + 500]
        connect(state, f"owner{start}", part, channel_configs=dict.fromkeys(part, config))
    for n in range(args.connections):
        conn_id = connect(state, f"u{n % 1000}", [names[n % len(names)]])
        listen(state, conn_id)
    for name in names:
        body = [{"channel": name, "user": "bot", "message": {"n": k}} for k in range(args.history)]
        operations.publish_messages(state, MessageSchema(many=True).load(body))

    trends = Trends(state.hub, state.engine, state.clock, 10)
    times = []
    for _ in range(args.samples):
        begin = time.perf_counter()
        trends.sample()
        times.append(time.perf_counter() - begin)
    summary = json.dumps(dashboard.summary(state, trends)).encode()
    legacy = json.dumps(presenters.admin_summary(state)).encode()
    print(
        f"{args.connections} local connections, {args.channels} channels x {args.history} "
        f"stored messages: one sample {statistics.median(times) * 1000:.2f} ms (median of "
        f"{args.samples}, max {max(times) * 1000:.2f} ms); summary.json {len(summary):,} "
        f"bytes, admin.json {len(legacy):,} bytes"
    )


if __name__ == "__main__":
    main()
