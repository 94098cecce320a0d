"""What channelstream_client's Publisher gains: concurrent publishes, one request each vs
gathered into shared POST /message calls.

    .venv/bin/python bench/client_publisher.py                  # threads and tasks, ~10 s
    .venv/bin/python bench/client_publisher.py --workers 32 --each 100 --modes threads

Starts its own channelstream (pserve development.ini on a free loopback port, pinned to CPU 0
when taskset exists, the clients on CPU 1), then for each mode runs WORKERS threads (or
asyncio tasks), each publishing EACH messages one after the other as fast as answered,
first with ``client.publish`` directly, then through a publisher. It prints messages per
second, POST /message requests made, each publish's latency (p50, p99) and the server's
CPU time per message. Loopback only; the message count is bounded (WORKERS x EACH per run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from channelstream_client import AsyncClient, AsyncPublisher, Client, Publisher

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-client-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def channelstream() -> Iterator[tuple[str, int]]:
    """A server process; answers (url, pid)."""
    port = free_port()
    env = dict(
        os.environ,
        CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}",
        CHANNELSTREAM_SECRET=SECRET,
        CHANNELSTREAM_LOG_LEVEL="WARNING",
    )
    command = [str(Path(sys.executable).with_name("pserve")), str(ROOT / "development.ini")]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("channelstream did not start") from None
                time.sleep(0.05)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counter:
    def __init__(self) -> None:
        self.posts = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/message":
            with self.lock:
                self.posts += 1

    async def hook(self, request: httpx.Request) -> None:
        self(request)


def message(worker: int, n: int) -> dict[str, Any]:
    return {"channel": f"bench-{worker % 8}", "user": f"w{worker}", "message": {"n": n}}


def run_threads(
    url: str, workers: int, each: int, gathered: bool, counter: Counter, delay: float
) -> list[float]:
    http = httpx.Client(event_hooks={"request": [counter]})
    client = Client(url, SECRET, http_client=http, max_connections=workers)
    publisher = Publisher(client, max_delay=delay) if gathered else None
    publish: Callable[[dict[str, Any]], Any] = (
        publisher.publish if publisher else client.publish  # type: ignore[assignment]
    )
    start = threading.Barrier(workers)

    def worker(index: int) -> list[float]:
        start.wait()
        latencies = []
        for n in range(each):
            began = time.perf_counter()
            publish(message(index, n))
            latencies.append(time.perf_counter() - began)
        return latencies

    try:
        with ThreadPoolExecutor(workers) as pool:
            return [value for batch in pool.map(worker, range(workers)) for value in batch]
    finally:
        if publisher:
            publisher.close()
        http.close()


def run_tasks(
    url: str, workers: int, each: int, gathered: bool, counter: Counter, delay: float
) -> list[float]:
    async def scenario() -> list[float]:
        http = httpx.AsyncClient(
            event_hooks={"request": [counter.hook]},
            limits=httpx.Limits(max_connections=workers),
        )
        client = AsyncClient(url, SECRET, http_client=http)
        publisher = AsyncPublisher(client, max_delay=delay) if gathered else None

        async def worker(index: int) -> list[float]:
            latencies = []
            for n in range(each):
                began = time.perf_counter()
                if publisher:
                    await publisher.publish(message(index, n))  # type: ignore[arg-type]
                else:
                    await client.publish(message(index, n))  # type: ignore[arg-type]
                latencies.append(time.perf_counter() - began)
            return latencies

        batches = await asyncio.gather(*(worker(index) for index in range(workers)))
        if publisher:
            await publisher.aclose()
        await http.aclose()
        return [value for batch in batches for value in batch]

    return asyncio.run(scenario())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="threads or tasks (16)")
    parser.add_argument("--each", type=int, default=50, help="messages per worker (50)")
    parser.add_argument("--modes", default="threads,tasks", help="threads,tasks")
    parser.add_argument(
        "--max-delay", type=float, default=0.0, help="the publishers' max_delay (0 s)"
    )
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1} if os.cpu_count() and os.cpu_count() > 1 else {0})
    runners = {"threads": run_threads, "tasks": run_tasks}
    total = args.workers * args.each
    print(
        f"{args.workers} workers x {args.each} messages = {total} per run,"
        f" publishers' max_delay {args.max_delay * 1000:g} ms"
    )
    print(
        f"{'mode':<8} {'how':<10} {'msg/s':>8} {'requests':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'server CPU us/msg':>18}"
    )
    with channelstream() as (url, pid):
        Client(url, SECRET).info([])  # warm up the server
        for mode in args.modes.split(","):
            for gathered in (False, True):
                counter = Counter()
                cpu_before, began = cpu_seconds(pid), time.perf_counter()
                latencies = runners[mode](
                    url, args.workers, args.each, gathered, counter, args.max_delay
                )
                elapsed, cpu = time.perf_counter() - began, cpu_seconds(pid) - cpu_before
                print(
                    f"{mode:<8} {'Publisher' if gathered else 'direct':<10}"
                    f" {total / elapsed:>8.0f} {counter.posts:>9}"
                    f" {percentile(latencies, 0.5) * 1000:>7.2f}"
                    f" {percentile(latencies, 0.99) * 1000:>7.2f}"
                    f" {cpu / total * 1e6:>18.0f}"
                )
                assert len(latencies) == total and statistics.mean(latencies) > 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
