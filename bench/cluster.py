"""One process vs two processes with the Redis engine (issue 4's benchmark scenario).

    .venv/bin/python bench/cluster.py [--rounds 3]

Starts its own redis-server on a free port, then, per round and in turn: one channelstream
process with the memory engine, one with the Redis engine, and two Redis-engine workers
sharing one port (``channelstream.reuse_port``). Each faces the load generator's
``ws_fanout`` (1 channel x 1000 WebSocket subscribers, 16 publisher connections posting as
fast as answered for 4 s). Servers run on core 0 and the load generator on core 1 (with two
workers both share core 0: this machine has two cores and the load generator needs one).
Prints delivered msgs/s, server CPU per delivery (all workers together) and the ratio of
two workers to one; lost or duplicated messages are reported and must be zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import run  # bench/run.py: this script's directory is on sys.path

REPO = Path(__file__).resolve().parents[1]
LOADGEN = REPO / "bench" / "loadgen"
SECRET = "benchsecret"
# run.py's fanout_max scenario (1 channel x 1000 ws subscribers, publisher as fast as accepted)
PARAMS: dict[str, Any] = next(s for s in run.SCENARIOS if s["name"] == "fanout_max")["params"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def start_workers(count: int, engine: str, redis_url: str, port: int) -> list[subprocess.Popen]:
    env = dict(
        os.environ,
        CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}",
        CHANNELSTREAM_SECRET=SECRET,
        CHANNELSTREAM_LOG_LEVEL="WARNING",
        CHANNELSTREAM_ENGINE=engine,
        CHANNELSTREAM_REDIS_URL=redis_url,
        CHANNELSTREAM_REUSE_PORT="true" if count > 1 else "false",
    )
    workers = [
        subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                str(REPO / ".venv" / "bin" / "pserve"),
                str(REPO / "development.ini"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    wait_port(port)
    time.sleep(1.0)  # every worker up and subscribed to Redis
    return workers


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_setup(name: str, count: int, engine: str, redis_url: str) -> dict[str, Any]:
    port = free_port()
    workers = start_workers(count, engine, redis_url, port)
    try:
        pids = [w.pid for w in workers]
        before = cpu_seconds(pids)
        started = time.monotonic()
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "node",
                str(LOADGEN / "loadgen.js"),
                "--scenario",
                "ws_fanout",
                "--port",
                str(port),
                "--secret",
                SECRET,
                "--server-pid",
                str(pids[0]),
                "--clk-tck",
                str(os.sysconf("SC_CLK_TCK")),
                "--params",
                json.dumps(PARAMS),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(pids) - before
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"error": out.stderr[-500:]}
    finally:
        stop(workers)
    delivered = result.get("delivered", 0)
    return {
        "setup": name,
        "delivered_per_s": result.get("delivered_per_s"),
        "lost": result.get("lost"),
        "duplicated": result.get("duplicated"),
        "msgs_per_frame": result.get("msgs_per_frame"),
        # CPU of every worker over the whole run (connects included), per delivery
        "cpu_us_per_delivery": round(cpu * 1e6 / delivered, 2) if delivered else None,
        "seconds": round(elapsed, 1),
        "error": result.get("error"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (LOADGEN / "node_modules" / "ws").exists():
        subprocess.run(["npm", "ci", "--silent"], cwd=LOADGEN, check=True)
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise SystemExit("bench/cluster.py needs redis-server (apt-get install redis-server)")
    redis_port = free_port()
    workdir = tempfile.mkdtemp(prefix="cs-bench-redis-")
    redis = subprocess.Popen(
        [
            redis_bin,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_port(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    setups = [
        ("1 process, memory", 1, "memory"),
        ("1 process, redis", 1, "redis"),
        ("2 processes, redis", 2, "redis"),
    ]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in setups}
    try:
        for round_ in range(args.rounds):
            order = setups if round_ % 2 == 0 else list(reversed(setups))
            for name, count, engine in order:
                subprocess.run(
                    ["redis-cli", "-p", str(redis_port), "flushall"],
                    capture_output=True,
                    check=False,
                )
                outcome = run_setup(name, count, engine, redis_url)
                print(json.dumps(outcome), flush=True)
                results[name].append(outcome)
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n| setup | delivered msgs/s (median) | server CPU per delivery | lost + duplicated |")
    print("| --- | --: | --: | --: |")
    medians = {}
    for name, runs in results.items():
        rates = [r["delivered_per_s"] or 0 for r in runs]
        cpus = [r["cpu_us_per_delivery"] or 0 for r in runs]
        bad = sum((r["lost"] or 0) + (r["duplicated"] or 0) for r in runs)
        medians[name] = statistics.median(rates)
        print(f"| {name} | {medians[name]:,.0f} | {statistics.median(cpus):.2f} us | {bad} |")
    one = medians["1 process, redis"] or 1
    print(
        f"\ntwo processes / one process (redis engine): {medians['2 processes, redis'] / one:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
