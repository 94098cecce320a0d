"""Benchmark channelstream against Channelstream 0.7.1, side by side (issue 5).

Run it through ``bash bench/run.sh`` (which raises the open-files limit first). Standard
library only, so any Python 3.8+ runs it.

For every scenario and every round, both servers are started fresh on a free loopback port,
pinned to core 0, and the Node.js load generator (bench/loadgen/loadgen.js), pinned to core 1,
runs the scenario against them one after the other; the order alternates from one round to
the next. The load generator samples the server's /proc/PID/stat and /status itself, so CPU
and memory are taken over exactly the window it measures.

It installs what it needs by itself: the load generator's packages with ``npm ci`` and
Channelstream 0.7.1 in ``bench/.venv-071`` (Python 3.7, the exact pins of 0.7.1's own
requirements.txt, the sdist from PyPI).

Results: ``bench/results/<UTC time>.json`` (every run's raw figures), ``bench/results/latest.json``
and the table in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LOADGEN = BENCH / "loadgen"
SOKETI = BENCH / "soketi"
SOKETI_BIN = SOKETI / "node_modules" / "@soketi" / "soketi" / "bin" / "server.js"
SOKETI_APP = {"id": "bench", "key": "benchkey"}  # its secret is SECRET
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
VENV_071 = BENCH / ".venv-071"
PY_FOR_071 = "/root/.pyenv/versions/3.7.16/bin/python3"  # or $BENCH_PYTHON37, see python37()
SECRET = "benchsecret"
SERVER_CORE = "0"
LOADGEN_CORE = "1"

# Channelstream 0.7.1's requirements.txt (pip-compile output shipped in its sdist), verbatim
# pins. gevent 1.4.0 and greenlet 0.4.15 have wheels up to CPython 3.7 and do not build on
# 3.9+, hence Python 3.7 for 0.7.1.
PINS_071 = """\
apispec[yaml]==1.3.3
certifi==2019.11.28
chardet==3.0.4
gevent==1.4.0
greenlet==0.4.15
hupper==1.9.1
idna==2.8
itsdangerous==1.1.0
jinja2==2.11.1
markupsafe==1.1.1
marshmallow==2.18.0
pastedeploy==2.1.0
plaster==1.0
plaster-pastedeploy==0.7
pyramid==1.10.4
pyramid-jinja2==2.8
pyramid_apispec==0.3.3
python-dateutil==2.8.1
pyyaml==5.3
requests==2.22.0
six==1.14.0
translationstring==1.3
urllib3==1.25.8
venusian==3.0.0
webob==1.8.6
ws4py==0.5.1
zope.deprecation==4.4.0
zope.interface==4.7.1
"""

# ---------------------------------------------------------------------------------------------
# scenarios (issue 5). Every one is bounded in time and in request count.

SCENARIOS = [
    {
        "name": "fanout_max",
        "soketi": True,
        "title": "1 channel x 1000 ws subscribers, publisher as fast as accepted",
        "kind": "ws_fanout",
        # 16 publisher connections (enough to keep 0.7.1's CPU busy despite its delayed-ACK
        # stall), one message per POST, for 4 s or 4000 messages (4M deliveries)
        "params": {
            "subs": 1000,
            "channels": 1,
            "rate": None,
            "duration": 4,
            "maxMsgs": 4000,
            "pubConns": 16,
            "batch": 1,
            "drainIdle": 3,
            "drainMax": 25,
        },
        "quick": {"subs": 100, "duration": 2, "maxMsgs": 2000},
    },
    {
        "name": "fanout_10",
        "soketi": True,
        "title": "1 channel x 1000 ws subscribers, 10 msgs/s",
        "kind": "ws_fanout",
        # 15 s: 150 messages, so that one message delayed by a preemption stays under 1%
        "params": {
            "subs": 1000,
            "channels": 1,
            "rate": 10,
            "duration": 15,
            "maxMsgs": 200,
            "pubConns": 4,
            "batch": 1,
            "drainIdle": 3,
            "drainMax": 10,
        },
        "quick": {"subs": 100, "duration": 2},
    },
    {
        "name": "channels_1000",
        "soketi": True,
        "title": "1000 channels x 1 ws subscriber, publisher as fast as accepted",
        "kind": "ws_fanout",
        # 16 publisher connections, 20 messages (to 20 different channels) per POST
        "params": {
            "subs": 1000,
            "channels": 1000,
            "rate": None,
            "duration": 4,
            "maxMsgs": 300000,
            "pubConns": 16,
            "batch": 20,
            "drainIdle": 3,
            "drainMax": 25,
        },
        "quick": {"subs": 100, "channels": 100, "duration": 2, "maxMsgs": 50000},
    },
    {
        "name": "idle_10k",
        "soketi": True,
        "title": "10,000 idle websocket connections",
        "kind": "idle",
        # POST /connect + websocket open, 128 at a time (64 left channelstream's core partly
        # idle; 0.7.1 is saturated either way); then 10 s idle with only the server's
        # heartbeats, then 10 s with client heartbeats every 10 s (what the JS client sends)
        "params": {"conns": 10000, "concurrency": 128, "idle": 10, "heartbeat": 10, "settle": 2},
        "quick": {"conns": 1000, "idle": 3},
    },
    {
        "name": "longpoll_max",
        "title": "200 long-poll clients, 1 channel, publisher as fast as accepted",
        "kind": "longpoll",
        "params": {
            "clients": 200,
            "rate": None,
            "duration": 4,
            "maxMsgs": 10000,
            "pubConns": 16,
            "batch": 1,
            "drainIdle": 7,
            "drainMax": 20,
        },
        "quick": {"clients": 50, "duration": 2},
    },
    {
        "name": "longpoll_20",
        "title": "200 long-poll clients, 1 channel, 20 msgs/s",
        "kind": "longpoll",
        "params": {
            "clients": 200,
            "rate": 20,
            "duration": 8,
            "maxMsgs": 200,
            "pubConns": 4,
            "batch": 1,
            "drainIdle": 7,
            "drainMax": 15,
        },
        "quick": {"clients": 50, "duration": 3},
    },
    {
        "name": "http_4",
        "title": "POST /connect + POST /message, 4 keep-alive connections",
        "kind": "http",
        "params": {"conns": 4, "duration": 4, "warmup": 0.5, "maxRequests": 400000},
        "quick": {"duration": 2},
    },
    {
        "name": "http_128",
        "title": "POST /connect + POST /message, 128 keep-alive connections",
        "kind": "http",
        "params": {"conns": 128, "duration": 4, "warmup": 0.5, "maxRequests": 400000},
        "quick": {"duration": 2},
    },
]

SERVERS = ("new", "071", "soketi")
LABEL = {
    "new": "channelstream",
    "071": "Channelstream 0.7.1",
    "soketi": "Soketi 1.6.1",
    "mock": "mock server (Node)",
    "floor": "floor: our HTTP server + Pyramid, no channelstream",
    "floor_bare": "floor without Pyramid: our HTTP server + a plain WSGI function",
}
# The floor (bench/floor_app.py, only with --servers ...,floor): what our HTTP server, Pyramid
# and gevent cost before channelstream does any work of its own, on these scenarios only;
# floor_bare is the same without Pyramid (floor_app.py --bare-wsgi).
FLOOR_SCENARIOS = ("idle_10k", "channels_1000", "fanout_max")
FLOOR_MD = BENCH / "floor.md"


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$", " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------------------------------------
# setup: node packages, the 0.7.1 venv, the signer check


def ensure_loadgen():
    stamp = LOADGEN / "node_modules" / ".bench-lock"
    lock = (LOADGEN / "package-lock.json").read_bytes()
    if stamp.exists() and stamp.read_bytes() == lock:
        return
    run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LOADGEN, stdout=sys.stderr)
    stamp.write_bytes(lock)


def ensure_soketi():
    """Soketi 1.6.1 in bench/soketi/node_modules from the committed package-lock.json, with
    uWebSockets.js overridden (package.json "overrides") to the npm-published build
    @trufflesuite/uws-js-unofficial, as Soketi's own pin is a GitHub tarball."""
    stamp = SOKETI / "node_modules" / ".bench-lock"
    lock = (SOKETI / "package-lock.json").read_bytes()
    if stamp.exists() and stamp.read_bytes() == lock and SOKETI_BIN.exists():
        return
    run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SOKETI, stdout=sys.stderr)
    stamp.write_bytes(lock)


def free_udp_port(start):
    port = start
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                port += 1


def python37():
    """A CPython 3.7 for 0.7.1: $BENCH_PYTHON37, pyenv's 3.7.x, or python3.7 on the PATH."""
    found = [os.environ.get("BENCH_PYTHON37", ""), PY_FOR_071]
    for root in (Path.home() / ".pyenv" / "versions", Path("/root/.pyenv/versions")):
        found += sorted(str(p) for p in root.glob("3.7.*/bin/python3"))
    found.append(shutil.which("python3.7") or "")
    for candidate in found:
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit(
        "Channelstream 0.7.1 needs CPython 3.7 (gevent 1.4.0 wheels): set BENCH_PYTHON37 "
        "or install it with pyenv"
    )


def ensure_071():
    stamp = VENV_071 / ".bench-ok"
    if stamp.exists() and stamp.read_text() == PINS_071:
        return
    if VENV_071.exists():
        shutil.rmtree(VENV_071)
    run([python37(), "-m", "venv", str(VENV_071)])
    pip = [str(VENV_071 / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements-071.txt"
        req.write_text(PINS_071)
        run([*pip, "install", "--only-binary", "gevent,greenlet", "-r", str(req)])
    # the sdist itself (built here), without letting pip re-resolve its looser install_requires
    run([*pip, "install", "--no-deps", "--no-binary", "channelstream", "channelstream==0.7.1"])
    out = subprocess.run(
        [str(VENV_071 / "bin" / "channelstream"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if out != "0.7.1":
        sys.exit("unexpected Channelstream version in bench/.venv-071: " + out)
    stamp.write_text(PINS_071)


def check_signer():
    """The Node signer must produce what itsdangerous (0.7.1's own copy) accepts."""
    sig = subprocess.run(
        [
            "node",
            str(LOADGEN / "loadgen.js"),
            "--scenario",
            "sign",
            "--port",
            "1",
            "--secret",
            SECRET,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    code = (
        "import sys; from itsdangerous import TimestampSigner as T;"
        "assert T(sys.argv[1]).unsign(sys.argv[2], max_age=60) == b'channelstream'"
    )
    subprocess.run([str(VENV_071 / "bin" / "python"), "-c", code, SECRET, sig], check=True)
    log("signer check: the Node signature verifies with itsdangerous")


# ---------------------------------------------------------------------------------------------
# servers


def free_port(start):
    port = start
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                port += 1


def new_server_available():
    return (
        (REPO / "channelstream" / "server.py").exists()
        and (REPO / "development.ini").exists()
        and (REPO / ".venv" / "bin" / "pserve").exists()
    )


class Server:
    def __init__(self, which, port, args):
        self.which = which
        self.port = port
        self.args = args
        self.proc = None
        self.logfile = None

    def command(self):
        if self.which == "mock":
            return ["node", str(LOADGEN / "mockserver.js"), str(self.port)], dict(os.environ)
        if self.which == "soketi":
            env = dict(os.environ)
            # its defaults but on loopback and free ports: the metrics (/usage) server and the
            # node discovery's UDP socket, which it opens even with the local adapter, have
            # fixed ports by default; event batches of 20 like our POST /message of 20 items
            env.update(
                {
                    "SOKETI_HOST": "127.0.0.1",
                    "SOKETI_PORT": str(self.port),
                    "SOKETI_METRICS_HOST": "127.0.0.1",
                    "SOKETI_METRICS_SERVER_PORT": str(free_port(self.port + 10000)),
                    "SOKETI_CLUSTER_HOST": "127.0.0.1",
                    "SOKETI_CLUSTER_PORT": str(free_udp_port(self.port + 11000)),
                    "SOKETI_CLUSTER_BROADCAST_ADDRESS": "127.255.255.255",
                    "SOKETI_EVENT_MAX_BATCH_SIZE": "20",
                    "SOKETI_DEFAULT_APP_ID": SOKETI_APP["id"],
                    "SOKETI_DEFAULT_APP_KEY": SOKETI_APP["key"],
                    "SOKETI_DEFAULT_APP_SECRET": SECRET,
                }
            )
            return ["node", str(SOKETI_BIN), "start"], env
        if self.which in ("floor", "floor_bare"):
            cmd = [str(REPO / ".venv" / "bin" / "python"), str(BENCH / "floor_app.py")]
            cmd += ["--port", str(self.port)]
            if self.which == "floor_bare":
                cmd.append("--bare-wsgi")
            return cmd, dict(os.environ)
        if self.which == "new":
            env = dict(os.environ)
            env.update(
                {
                    "CHANNELSTREAM_LISTEN": f"127.0.0.1:{self.port}",
                    "CHANNELSTREAM_SECRET": SECRET,
                    "CHANNELSTREAM_LOG_LEVEL": "WARNING",
                    "CHANNELSTREAM_ALLOW_POSTING_FROM": "127.0.0.1",
                    # every client of the benchmark comes from 127.0.0.1: the per-address
                    # limit on upgrades (50/s by default) would refuse them
                    "CHANNELSTREAM_UPGRADES_PER_SECOND_PER_ADDRESS": "0",
                }
            )
            for item in self.args.new_env:
                k, _, v = item.partition("=")
                env[k] = v
            ini = Path(self.args.new_ini)
            if not ini.is_absolute():
                ini = REPO / ini
            return [str(REPO / ".venv" / "bin" / "pserve"), str(ini)], env
        ini = LOGS / f"channelstream-071-{self.port}.ini"
        ini.write_text(
            "[channelstream]\n"
            f"secret = {SECRET}\n"
            "admin_user = admin\n"
            "admin_secret = bench-admin\n"
            "cookie_secret = bench-cookie\n"
            "host = 127.0.0.1\n"
            f"port = {self.port}\n"
            "log_level = WARNING\n"
            "allow_posting_from = 127.0.0.1\n"
            "demo = false\n"
        )
        # 0.7.1's own entry point, its Flash policy server moved off the fixed port 10843
        cmd = [str(VENV_071 / "bin" / "python"), str(BENCH / "start071.py"), "-i", str(ini)]
        return cmd, dict(os.environ)

    def start(self):
        cmd, env = self.command()
        env.pop("PYTHONPATH", None)
        self.logfile = LOGS / f"{self.which}-{self.port}.log"
        out = open(self.logfile, "wb")
        # taskset execs the server, so the PID we hold is the server's own
        self.proc = subprocess.Popen(
            ["nice", "-n", str(self.args.nice), "taskset", "-c", SERVER_CORE, *cmd],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Soketi reads a .env from its working directory (there is none in bench/soketi)
            cwd=str(SOKETI if self.which == "soketi" else REPO),
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{LABEL[self.which]} exited at start, see {self.logfile}:\n" + self.log_tail()
                )
            if self._listening() and self._answers():
                time.sleep(0.3)
                if self.proc.poll() is None:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{LABEL[self.which]} did not answer on port {self.port}")

    def _listening(self):
        """True when the listening socket on our port belongs to our server process (another
        benchmark on the machine may hold the port: then this run must not measure it)."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == self.port:
                    inodes.add(f[9])
        if not inodes:
            return False
        fd_dir = Path(f"/proc/{self.proc.pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                try:
                    link = os.readlink(fd)
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return True
        except OSError:
            return False
        raise RuntimeError(f"port {self.port} is held by another process")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            # the server's own process group, which we created (start_new_session)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def log_tail(self, n=15):
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# one run


def other_benchmarks():
    """PIDs of load generators running now: another bench/run.py (ours runs one at a time,
    and never while this is called)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(b"loadgen.js") for c in cmd) and b"--scenario" in cmd:
            pids.append(int(d.name))
    return pids


def wait_for_quiet(limit=180):
    """Let another benchmark's run finish first: two at once spoil both."""
    start = time.monotonic()
    first = True
    while other_benchmarks() and time.monotonic() - start < limit:
        if first:
            log("    another benchmark's load generator is running; waiting for it to end")
            first = False
        time.sleep(1)
    return round(time.monotonic() - start, 1)


def run_once(which, scenario, params, args, port):
    waited = wait_for_quiet()
    server = Server(which, port, args)
    result = {"server": which, "port": port, "waited_for_other_benchmark_s": waited}
    try:
        server.start()
    except Exception as exc:  # a server that cannot start is a result, not a crash
        server.stop()
        log(f"    {LABEL[which]} did not start ({str(exc)[:200]}); one more try")
        time.sleep(2)
        port = free_port(port + 50)
        server = Server(which, port, args)
        result["port"] = port
        try:
            server.start()
        except Exception as exc2:
            result["error"] = str(exc2)
            server.stop()
            return result
    result["pid"] = server.proc.pid
    cmd = [
        "nice",
        "-n",
        str(args.nice),
        "taskset",
        "-c",
        LOADGEN_CORE,
        "node",
        str(LOADGEN / "loadgen.js"),
        "--scenario",
        scenario["kind"],
        "--port",
        str(port),
        "--secret",
        SECRET,
        "--server-pid",
        str(server.proc.pid),
        "--clk-tck",
        str(os.sysconf("SC_CLK_TCK")),
        "--params",
        json.dumps(params),
    ]
    if which == "soketi":
        cmd += ["--proto", "pusher", "--app-id", SOKETI_APP["id"], "--app-key", SOKETI_APP["key"]]
    spy = None
    if args.py_spy and which == "new":
        # sampling profile of channelstream during the run (perturbs the figures a little:
        # for finding hot spots, not for the table)
        prof = LOGS / f"profile-{scenario['name']}-{port}.txt"
        spy = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "py-spy"),
                "record",
                "--nonblocking",
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                str(prof),
                "-p",
                str(server.proc.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result["profile"] = str(prof.relative_to(REPO))
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=params["timeLimit"] + 15)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        data = json.loads(lines[-1]) if lines else {"error": "no output from the load generator"}
        if proc.returncode != 0 and "error" not in data:
            data["error"] = f"load generator exited {proc.returncode}"
        if proc.stderr.strip():
            data["loadgen_stderr"] = proc.stderr.strip().splitlines()[-5:]
    except subprocess.TimeoutExpired:
        data = {"error": "load generator timed out"}
    except json.JSONDecodeError:
        data = {"error": "unreadable load generator output"}
    result.update(data)
    result["wall_s"] = round(time.monotonic() - started, 2)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=20)
            summarize_profile(REPO / result["profile"])
        except subprocess.TimeoutExpired:
            spy.kill()
    if not server.alive():
        result["error"] = (result.get("error", "") + " server died: " + server.log_tail()).strip()
    code = server.stop()
    result["server_exit"] = code
    return result


def summarize_profile(path, top=40):
    """Write PATH.top.txt: the hottest functions of a py-spy raw profile, self and inclusive."""
    own, incl, total = {}, {}, 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + int(n)
        for f in set(frames):
            incl[f] = incl.get(f, 0) + int(n)
    out = [f"{total} samples", "", "self:"]
    for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]:
        out.append(f"{100 * n / total:5.1f}% {f}")
    out += ["", "inclusive:"]
    for f, n in sorted(incl.items(), key=lambda x: -x[1])[:top]:
        out.append(f"{100 * n / total:5.1f}% {f}")
    path.with_suffix(".top.txt").write_text("\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------------
# figures, ratios and targets


def med(runs, *path):
    vals = []
    for r in runs:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals.append(v)
    return statistics.median(vals) if vals else None


# (scenario, label, path in a run's result, unit, direction of "better", target)
# target: None, (op, value, on) or a list of them, with on "ratio" (channelstream / 0.7.1),
# "soketi" (channelstream / Soketi) or "new" (channelstream's own figure).
METRICS = [
    ("fanout_max", "delivered msgs/s", ("delivered_per_s",), "", "up", (">=", 10, "ratio")),
    (
        "fanout_max",
        "server CPU per delivery",
        ("server_cpu_us_per_delivery",),
        "us",
        "down",
        ("<=", 0.15, "soketi"),
    ),
    ("fanout_max", "server CPU use (% of its core)", ("server_cpu_util",), "%", None, None),
    (
        "fanout_max",
        "load generator CPU use (% of its core)",
        ("loadgen_cpu_util",),
        "%",
        None,
        None,
    ),
    ("fanout_max", "latency p50", ("latency_ms", "p50"), "ms", "down", None),
    ("fanout_max", "latency p99", ("latency_ms", "p99"), "ms", "down", None),
    ("fanout_max", "msgs per frame", ("msgs_per_frame",), "", None, None),
    ("fanout_max", "server RSS, peak", ("server_rss_kib_peak",), "KiB", "down", None),
    (
        "fanout_max",
        "load generator CPU per received msg",
        ("loadgen_cpu_us_per_msg",),
        "us",
        None,
        None,
    ),
    ("fanout_10", "latency p50", ("latency_ms", "p50"), "ms", "down", None),
    (
        "fanout_10",
        "latency p99",
        ("latency_ms", "p99"),
        "ms",
        "down",
        [("<=", 50, "new"), ("<=", 1.0, "soketi")],
    ),
    ("fanout_10", "server CPU per delivery", ("server_cpu_us_per_delivery",), "us", "down", None),
    ("channels_1000", "delivered msgs/s", ("delivered_per_s",), "", "up", (">=", 10, "ratio")),
    (
        "channels_1000",
        "server CPU per message",
        ("server_cpu_us_per_delivery",),
        "us",
        "down",
        ("<=", 1.0, "soketi"),
    ),
    ("channels_1000", "server CPU use (% of its core)", ("server_cpu_util",), "%", None, None),
    (
        "channels_1000",
        "load generator CPU use (% of its core)",
        ("loadgen_cpu_util",),
        "%",
        None,
        None,
    ),
    ("channels_1000", "latency p50", ("latency_ms", "p50"), "ms", "down", None),
    (
        "idle_10k",
        "RSS per connection",
        ("rss_kib_per_conn",),
        "KiB",
        "down",
        [("<=", 12, "new"), ("<=", 0.8, "soketi")],
    ),
    (
        "idle_10k",
        "connects/s (channelstream: POST /connect + ws open; Soketi: ws open + subscribe)",
        ("connects_per_s",),
        "",
        "up",
        (">=", 3, "ratio"),
    ),
    (
        "idle_10k",
        "server CPU per client brought online",
        ("connect_server_cpu_us_per_connect",),
        "us",
        "down",
        ("<=", 1.5, "soketi"),
    ),
    (
        "idle_10k",
        "server CPU use while connecting",
        ("connect_server_cpu_util",),
        "%",
        None,
        None,
    ),
    (
        "idle_10k",
        "load generator CPU use while connecting",
        ("connect_loadgen_cpu_util",),
        "%",
        None,
        None,
    ),
    (
        "idle_10k",
        "idle server CPU, its own heartbeats only (% of a core)",
        ("idle_server_cpu_util",),
        "%",
        "down",
        ("<", 5, "new"),
    ),
    (
        "idle_10k",
        "idle server CPU, clients also sending heartbeats every 10 s",
        ("idle_with_client_heartbeats_server_cpu_util",),
        "%",
        "down",
        None,
    ),
    ("idle_10k", "connections still open after idle", ("still_open",), "", None, None),
    ("longpoll_max", "delivered msgs/s", ("delivered_per_s",), "", "up", (">=", 5, "ratio")),
    (
        "longpoll_max",
        "server CPU per delivery",
        ("server_cpu_us_per_delivery",),
        "us",
        "down",
        None,
    ),
    ("longpoll_20", "latency p50", ("latency_ms", "p50"), "ms", "down", ("<=", 50, "new")),
    ("longpoll_20", "latency p99", ("latency_ms", "p99"), "ms", "down", None),
    ("http_4", "requests/s", ("requests_per_s",), "", "up", (">=", 20, "ratio")),
    ("http_4", "server CPU per request", ("server_cpu_us_per_request",), "us", "down", None),
    ("http_128", "requests/s", ("requests_per_s",), "", "up", None),
    (
        "http_128",
        "server CPU per request",
        ("server_cpu_us_per_request",),
        "us",
        "down",
        ("<=", 0.2, "ratio"),
    ),
]

DELIVERY_SCENARIOS = ("fanout_max", "fanout_10", "channels_1000", "longpoll_max", "longpoll_20")


def check(op, value, x):
    if x is None:
        return None
    return {">=": x >= value, "<=": x <= value, "<": x < value, "==": x == value}[op]


def targets(target):
    if not target:
        return []
    return target if isinstance(target, list) else [target]


def invalid_reason(run):
    """Why a run's figures cannot be used (None when they can)."""
    if "error" in run:
        return run["error"][:200]
    if "delivered" in run and not run["delivered"]:
        return "no message delivered"
    if "still_open" in run:
        still = min(run["still_open"], run.get("open_after_idle", run["still_open"]))
        if still != run["conns"] or run.get("failures"):
            return (
                f"{run['conns'] - still} of {run['conns']} websockets failed or closed "
                f"(close codes {run.get('close_codes')})"
            )
    if "requests_ok" in run and (run.get("errors") or not run["requests_ok"]):
        return f"{run.get('errors')} failed requests ({run.get('statuses')})"
    return None


def lost_sum(runs):
    if not runs:
        return None
    return sum(
        (r.get("lost") or 0) + (r.get("duplicated") or 0) + (r.get("unexpected") or 0) for r in runs
    )


def summarize(results):
    rows = []
    for scen, label, path, unit, better, target in METRICS:
        if scen not in results:
            continue
        runs = results[scen]
        valid = {w: [r for r in runs.get(w, []) if not invalid_reason(r)] for w in SERVERS}
        fig = {w: med(valid[w], *path) for w in SERVERS}
        if unit == "%":
            fig = {w: None if v is None else v * 100 for w, v in fig.items()}
        new, old, sok = fig["new"], fig["071"], fig["soketi"]
        ratio = new / old if better and new is not None and old else None
        ratio_s = new / sok if better and new is not None and sok else None
        met = None
        for op, value, on in targets(target):
            x = {"ratio": ratio, "soketi": ratio_s, "new": new}[on]
            if on == "soketi" and not runs.get("soketi"):
                continue  # Soketi did not run: that target is not judged
            ok = check(op, value, x)
            met = ok if met is None else (met and ok if ok is not None else None)
        if met is not None and runs["new"] and len(valid["new"]) < len(runs["new"]):
            met = False  # a target is met only when every round of it was valid
        rows.append(
            {
                "scenario": scen,
                "metric": label,
                "unit": unit,
                "new": new,
                "old": old,
                "soketi": sok,
                "ratio": ratio,
                "ratio_soketi": ratio_s,
                "better": better,
                "target": target,
                "met": met,
            }
        )
    # zero lost / duplicated messages, in every delivery scenario
    for scen in DELIVERY_SCENARIOS:
        if scen not in results:
            continue
        new_runs = results[scen]["new"]
        errs = any("error" in r for r in new_runs) or not any(r.get("delivered") for r in new_runs)
        nl = lost_sum(new_runs)
        rows.append(
            {
                "scenario": scen,
                "metric": "lost + duplicated (all rounds)",
                "unit": "",
                "new": nl,
                "old": lost_sum(results[scen]["071"]),
                "soketi": lost_sum(results[scen].get("soketi", [])),
                "ratio": None,
                "ratio_soketi": None,
                "better": "down",
                "target": ("==", 0, "new"),
                "met": None if nl is None or not new_runs or errs else nl == 0,
            }
        )
    return rows


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            s = f"{v:,.0f}"
        elif abs(v) >= 100:
            s = f"{v:.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.2f}"
    else:
        s = f"{v:,}"
    return s + (" " + unit if unit and unit != "%" else "%" if unit == "%" else "")


def fmt_target(t):
    out = []
    for op, value, on in targets(t):
        if on == "ratio":
            out.append(f"{op} {value}x 0.7.1")
        elif on == "soketi":
            out.append(f"{op} {value}x Soketi")
        else:
            out.append(f"{op} {value}")
    return ", ".join(out)


def fmt_ratio(x):
    if x is None:
        return "-"
    if x < 1:
        return f"{x:.3f}x"  # three places, so that 0.205 does not read as 0.20
    return f"{x:.2f}x"


def table(rows):
    out = [
        "| scenario | metric | channelstream | 0.7.1 | Soketi 1.6.1 | new / 0.7.1 | new / Soketi "
        "| target | met |",
        "| --- | --- | --: | --: | --: | --: | --: | --- | --- |",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ("-" if not r["target"] else "n/a")}[r["met"]]
        out.append(
            f"| {r['scenario']} | {r['metric']} | {fmt(r['new'], r['unit'])} | "
            f"{fmt(r['old'], r['unit'])} | {fmt(r.get('soketi'), r['unit'])} | "
            f"{fmt_ratio(r['ratio'])} | {fmt_ratio(r.get('ratio_soketi'))} | "
            f"{fmt_target(r['target'])} | {met} |"
        )
    return "\n".join(out)


def machine_info():
    info = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(mem) / 1024 / 1024, 1)
    except OSError:
        pass
    info["node"] = subprocess.run(
        ["node", "--version"], capture_output=True, text=True
    ).stdout.strip()
    try:
        ws = json.loads((LOADGEN / "node_modules" / "ws" / "package.json").read_text())["version"]
        info["ws"] = ws
    except OSError:
        pass
    for key, pkg in (("soketi", "@soketi/soketi"), ("uws", "uWebSockets.js")):
        try:
            meta = json.loads((SOKETI / "node_modules" / pkg / "package.json").read_text())
            info[key] = f"{meta['name']} {meta['version']}"
        except OSError:
            pass
    info["python_new"] = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    info["python_071"] = subprocess.run(
        [str(VENV_071 / "bin" / "python"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "channelstream", "setup.py", "development.ini"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    info["server_tree_dirty"] = bool(dirty)
    return info


def run_notes(results):
    """Invalid runs, and how busy the cores were with other work during each run."""
    invalid, busy = [], []
    for scen, by_server in results.items():
        for which in (*SERVERS, "floor", "floor_bare"):
            for i, r in enumerate(by_server.get(which, [])):
                why = invalid_reason(r)
                if why:
                    invalid.append(f"{scen}, {LABEL[which]}, round {i + 1}: {why}")
                else:
                    lg = r.get("loadgen_cpu_util") or r.get("connect_loadgen_cpu_util") or 0
                    sv = r.get("server_cpu_util") or r.get("connect_server_cpu_util") or 0
                    if lg > 0.85:
                        invalid.append(
                            f"{scen}, {LABEL[which]}, round {i + 1}: used (not invalid), but "
                            f"the load generator was the limit ({lg:.0%} of its core, the "
                            f"server {sv:.0%} of its own)"
                        )
                if isinstance(r.get("core0_others_util"), (int, float)):
                    busy.append(
                        (scen, which, i + 1, r["core0_others_util"], r.get("core1_others_util"))
                    )
    return invalid, busy


def write_benchmarks_md(report, rows, path):
    m = report["machine"]
    lines = [
        "# Benchmarks: channelstream vs Channelstream 0.7.1 and Soketi 1.6.1",
        "",
        "Generated by `bench/run.py`; do not edit by hand (rerun the command below).",
        "",
        f"- **Command:** `{report['command']}`",
        f"- **Date:** {report['date']} (took {report['took_s']:.0f} s)",
        f"- **Machine:** {m.get('cpu', '?')}, {m.get('cores')} cores, "
        f"{m.get('memory_gib')} GiB, Linux {m.get('kernel')}; shared and noisy, so only "
        "the ratios measured side by side in this one run are meant to be quoted.",
        f"- **Servers:** channelstream at commit `{m.get('commit')}`"
        f"{' plus uncommitted changes' if m.get('server_tree_dirty') else ''} "
        f"({m.get('python_new')}, "
        f"`pserve {report['new_ini']}`); Channelstream 0.7.1 from PyPI ({m.get('python_071')}, "
        "the pins of its own requirements.txt, its own `channelstream -i <generated ini>` "
        "entry point started by `bench/start071.py`, which only moves the unused Flash policy "
        "server off its fixed port); "
        f"Soketi from npm ({m.get('soketi')}, uWebSockets.js overridden to {m.get('uws')}, "
        "`bench/soketi/package.json`; its defaults with the local adapter, on loopback and free "
        "ports, event batches of up to 20). "
        f"Server pinned to core {SERVER_CORE}, load generator to core {LOADGEN_CORE}.",
        f"- **Load generator:** Node.js {m.get('node')} with `ws` {m.get('ws')} "
        "(`bench/loadgen/loadgen.js`).",
        "- **Reading it:** ratios are channelstream / 0.7.1 and channelstream / Soketi. Soketi "
        "runs the scenarios where the work is the same (fan-out, many channels, bringing "
        "clients online, idle memory, latency at a fixed rate). Throughput is the server's "
        "share of its core divided by its CPU per operation; when other work shares the "
        "machine (see the list under the table), the CPU-per-delivery and CPU-per-request "
        "ratios are the steadier figures.",
        f"- **Rounds:** {report['rounds']} per server and scenario; "
        "figures are medians over the rounds (the order of the servers turns from one round to "
        "the next); every run is in "
        f"`{report['results_file']}`.",
        "",
    ]
    if report.get("quick"):
        lines += [
            "**This was a `--quick` smoke run with scaled-down scenarios: not the real figures.**",
            "",
        ]
    if report.get("notes"):
        lines += ["Notes:", ""] + [f"- {n}" for n in report["notes"]] + [""]
    lines += [table(rows), ""]
    cal = report.get("calibration")
    if cal and "error" not in cal:
        lines += [
            "Load generator calibration (`fanout_max` against `bench/loadgen/mockserver.js`, a "
            "small Node server that sends one message per frame, so the receiver pays the most "
            f"per message): {fmt(cal.get('delivered_per_s'))} msgs/s received at "
            f"{fmt(cal.get('loadgen_cpu_us_per_msg'))} us of load generator CPU per message "
            f"({fmt(cal.get('loadgen_sys_us_per_msg'))} us of it in the kernel), "
            f"{fmt((cal.get('loadgen_cpu_util') or 0) * 100)}% of its core.",
            "",
        ]
    invalid, busy = run_notes(report["runs"])
    if invalid:
        lines += [
            "Runs whose figures were not used (a target with one fails), and runs limited by "
            "the load generator:",
            "",
        ]
        lines += [f"- {x}" for x in invalid] + [""]
    noisy = [b for b in busy if b[3] > 0.1 or (b[4] or 0) > 0.1]
    if noisy:
        lines += [
            "Runs during which other processes took more than 10% of the server's core (0) "
            "or the load generator's core (1):",
            "",
        ]
        lines += [
            f"- {scen}, {LABEL[w]}, round {i}: core 0 {c0:.0%}, core 1 {c1 or 0:.0%}"
            for scen, w, i, c0, c1 in noisy
        ] + [""]
    met = [r for r in rows if r["target"]]
    ok = sum(1 for r in met if r["met"])
    lines += [f"Targets met: {ok} of {len(met)}.", ""]
    lines += [
        "## Scenarios",
        "",
    ]
    for s in report["scenarios"]:
        lines.append(f"- **{s['name']}**: {s['title']}. Parameters: `{json.dumps(s['params'])}`")
    lines += [
        "",
        "## How it is measured",
        "",
        "- Every subscriber records every message it receives in a bitset per subscriber: a "
        "message accepted by `POST /message` (answer 200) and not received once by every "
        "subscriber of its channel is *lost*, one received twice is *duplicated*.",
        "- Each 64-byte `message.text` carries its sequence number and its send time; latency is "
        "the receive time minus the send time on the load generator's clock (the publisher and "
        "the subscribers live in the same process).",
        "- Delivered msgs/s: unique deliveries divided by the time from the first publish to "
        "the last delivery (so a server that accepts fast and delivers late is not flattered).",
        "- Server CPU: utime + stime from `/proc/PID/stat` over the same window, divided by "
        "deliveries (or requests); RSS from `/proc/PID/status` (VmRSS). RSS per connection = "
        "(RSS with all websockets open - RSS before the first one) / connections.",
        "- Connects/s: `POST /connect` then the WebSocket handshake, 128 clients at a time. "
        "For Soketi (Pusher protocol) a client comes online with the WebSocket handshake, "
        "`pusher:connection_established`, `pusher:subscribe` to a public channel and "
        "`pusher_internal:subscription_succeeded`: one HTTP request fewer, but a frame each way "
        "more; the connect CPU per client is over the same window for both.",
        "- Soketi publishing: the Pusher HTTP events API, signed by the load generator "
        "(`auth_key`, `auth_timestamp`, `auth_version`, `body_md5`, HMAC-SHA256 "
        "`auth_signature`): `POST /apps/bench/events` with one event (`fanout_*`), "
        "`POST /apps/bench/batch_events` with 20 events to 20 channels (`channels_1000`, like "
        "our one `POST /message` with 20 items). Soketi answers HTTP with `Connection: close`, "
        "so its publishers reconnect for every request. Its frames are one event each, "
        '`{"event", "channel", "data"}`; a client heartbeat is `pusher:ping`.',
        "- Server CPU is that of the server's whole process tree (none of the three forks).",
        "- Long-poll: each client loops on `GET /listen?conn_id=...` over its own keep-alive "
        "connection, sending the next poll as soon as an answer arrives.",
        "- Latency at 10 msgs/s includes the load generator reading the 1000 frames of one "
        "message one after the other (about 1-2 ms per 100 frames on its core), for both "
        "servers alike.",
        "- Idle CPU: server CPU over 10 s with every connection open and nothing sent but the "
        "server's own heartbeats; then over 10 more s with each client also sending "
        '`{"type": "heartbeat"}` every 10 s like the JS client.',
        "- HTTP: each connection alternates signed `POST /connect` (channel `bench_http_c`, 100 "
        "user names) and `POST /message` (one 64-byte message to a channel holding one "
        "unattached connection), one request in flight per keep-alive connection; requests "
        "are written in one TCP segment with TCP_NODELAY.",
        "- Load generator cost: its own CPU (`process.cpuUsage()`) per received message.",
        "",
    ]
    breakdown = BENCH / "breakdown.md"
    if breakdown.exists():
        # where one connect and one POST /message spend their time (bench/breakdown.py)
        lines += [breakdown.read_text()]
    if FLOOR_MD.exists():
        # the floor: our HTTP server + Pyramid alone, side by side with Soketi (its own run)
        lines += [FLOOR_MD.read_text()]
    path.write_text("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# the floor (bench/floor_app.py): server CPU per operation of the stack alone

# (scenario, label, path in a run's result, unit, target of channelstream against Soketi)
FLOOR_METRICS = [
    (
        "idle_10k",
        "server CPU per client brought online",
        ("connect_server_cpu_us_per_connect",),
        "us",
        1.5,
    ),
    ("idle_10k", "connects/s", ("connects_per_s",), "", None),
    ("idle_10k", "server CPU use while connecting", ("connect_server_cpu_util",), "%", None),
    ("idle_10k", "RSS per connection", ("rss_kib_per_conn",), "KiB", None),
    (
        "idle_10k",
        "idle server CPU, clients sending heartbeats every 10 s",
        ("idle_with_client_heartbeats_server_cpu_util",),
        "%",
        None,
    ),
    ("channels_1000", "server CPU per message", ("server_cpu_us_per_delivery",), "us", 1.0),
    ("channels_1000", "delivered msgs/s", ("delivered_per_s",), "", None),
    ("channels_1000", "server CPU use (% of its core)", ("server_cpu_util",), "%", None),
    ("fanout_max", "server CPU per delivery", ("server_cpu_us_per_delivery",), "us", 0.15),
    ("fanout_max", "delivered msgs/s", ("delivered_per_s",), "", None),
]


def floor_summary(results):
    """The floor's rows: its figures (and the bare WSGI variant's, when it ran),
    channelstream's and Soketi's from the same run (medians over the valid rounds), and the
    per-round figures of the CPU-per-operation metrics."""
    rows = []
    for scen, label, path, unit, target in FLOOR_METRICS:
        runs = results.get(scen, {})
        if not runs.get("floor") and not runs.get("floor_bare"):
            continue
        fig, rounds = {}, {}
        for w in FLOOR_COLUMNS:
            valid = [r for r in runs.get(w, []) if not invalid_reason(r)]
            v = med(valid, *path)
            fig[w] = v * 100 if unit == "%" and v is not None else v
            rounds[w] = [None if invalid_reason(r) else med([r], *path) for r in runs.get(w, [])]

        def ratio(a, b, unit=unit):
            return a / b if a is not None and b and unit == "us" else None

        rows.append(
            {
                "scenario": scen,
                "metric": label,
                "unit": unit,
                **fig,
                "floor_soketi": ratio(fig["floor"], fig["soketi"]),
                "floor_bare_soketi": ratio(fig["floor_bare"], fig["soketi"]),
                "new_soketi": ratio(fig["new"], fig["soketi"]),
                "new_floor": ratio(fig["new"], fig["floor"]),
                "target": target,
                "rounds": rounds if unit == "us" else None,
            }
        )
    return rows


# the floor table's figure columns, and its ratio columns
FLOOR_COLUMNS = ("floor", "floor_bare", "new", "soketi")
FLOOR_HEADS = {
    "floor": "floor",
    "floor_bare": "floor without Pyramid",
    "new": "channelstream",
    "soketi": "Soketi 1.6.1",
}
FLOOR_RATIOS = {
    "floor_soketi": "floor / Soketi",
    "floor_bare_soketi": "no Pyramid / Soketi",
    "new_soketi": "new / Soketi",
    "new_floor": "new / floor",
}


def floor_table(rows):
    # the columns of servers that ran (the bare WSGI variant only when selected)
    ran = [w for w in FLOOR_COLUMNS if any(r[w] is not None for r in rows)]
    ratios = [k for k in FLOOR_RATIOS if any(r[k] is not None for r in rows)]
    heads = [FLOOR_HEADS[w] for w in ran] + [FLOOR_RATIOS[k] for k in ratios]
    out = [
        "| scenario | metric | " + " | ".join(heads) + " | target for new |",
        "| --- | --- | " + " | ".join("--:" for _ in heads) + " | --- |",
    ]
    for r in rows:
        target = f"<= {r['target']}x Soketi" if r["target"] else "-"
        cells = [fmt(r[w], r["unit"]) for w in ran] + [fmt_ratio(r[k]) for k in ratios]
        out.append(f"| {r['scenario']} | {r['metric']} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(out)


def floor_rounds(rows):
    """One line per CPU-per-operation metric: every round's figure, per server."""
    out = []
    for r in rows:
        if not r["rounds"]:
            continue
        parts = []
        for w in FLOOR_COLUMNS:
            if not r["rounds"][w]:
                continue
            vals = ", ".join("invalid" if v is None else fmt(v) for v in r["rounds"][w])
            parts.append(f"{FLOOR_HEADS[w]} {vals}")
        out.append(f"- {r['scenario']}, {r['metric']} (us), by round: " + "; ".join(parts))
    return out


def write_floor_md(report, rows, path):
    m = report["machine"]
    lines = [
        "## The floor: our HTTP server + Pyramid, no channelstream",
        "",
        "`bench/floor_app.py` answers the load generator's calls (`POST /connect`, whose "
        "signature it does not check, "
        "`GET /ws` upgraded through our server's hook, `POST /message` sending one frame per "
        "message to each subscriber's socket) with `channelstream.http_server`'s "
        "`ChannelstreamServer`, a bare Pyramid `Configurator` and gevent, and nothing of "
        "channelstream's own work (no signature check, schemas, users, presence, history, "
        "uuids, send queues, heartbeats, limits or metrics: its docstring lists them). Its "
        "server CPU per operation is a lower bound for anything built on this stack while "
        "Pyramid answers every call. Measured side by side with channelstream and Soketi in "
        "one run.",
        "",
    ]
    if any(r.get("floor_bare") is not None for r in rows):
        lines += [
            "*Floor without Pyramid* (`floor_bare`, `bench/floor_app.py --bare-wsgi`): the same "
            "calls and the same work answered by a plain WSGI function on the same server, so "
            "that the floor minus it is what Pyramid costs.",
            "",
        ]
    lines += [
        f"- **Command:** `{report['command']}`",
        f"- **Date:** {report['date']}; channelstream at commit `{m.get('commit')}`"
        f"{' plus uncommitted changes' if m.get('server_tree_dirty') else ''}; "
        f"rounds: {report['rounds']}, medians over the valid ones; raw figures in "
        f"`{report['results_file']}`.",
        "",
    ]
    if report.get("quick"):
        lines += ["**A `--quick` smoke run with scaled-down scenarios: not the real figures.**", ""]
    lines += [floor_table(rows), ""]
    lines += [*floor_rounds(rows), ""]
    path.write_text("\n".join(lines))


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs per server and scenario (3)")
    ap.add_argument("--scenarios", default="", help="comma-separated names (default: all)")
    ap.add_argument(
        "--servers",
        default="new,071,soketi",
        help="new,071,soketi (default all; Soketi only runs the scenarios it shares); add "
        "floor for bench/floor_app.py (our HTTP server + Pyramid alone) and floor_bare for "
        "the same without Pyramid, on " + ", ".join(FLOOR_SCENARIOS),
    )
    ap.add_argument("--quick", action="store_true", help="scaled-down smoke run")
    ap.add_argument(
        "--new-ini",
        default="development.ini",
        help="ini for channelstream's pserve (default development.ini)",
    )
    ap.add_argument(
        "--new-env",
        action="append",
        default=[],
        help="extra KEY=VALUE for channelstream's environment (repeatable)",
    )
    ap.add_argument(
        "--no-md", action="store_true", help="do not rewrite BENCHMARKS.md (nor bench/floor.md)"
    )
    ap.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip the load generator's calibration against a mock server",
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        help="nice value for the servers and the load generator (default 0; root may go below)",
    )
    ap.add_argument("--setup-only", action="store_true", help="install, check and exit")
    ap.add_argument(
        "--from-json",
        metavar="RESULTS",
        help="only rebuild the table and BENCHMARKS.md from a results file",
    )
    ap.add_argument(
        "--py-spy",
        action="store_true",
        help="profile channelstream with .venv/bin/py-spy during each run "
        "(bench/results/logs/profile-*.txt and *.top.txt)",
    )
    args = ap.parse_args()

    if args.from_json:
        # rebuild the table (and BENCHMARKS.md) from a finished run's results
        report = json.loads(Path(args.from_json).read_text())
        rows = summarize(report["runs"])
        report["summary"] = rows
        print(table(rows))
        floor = floor_summary(report["runs"])
        if floor:
            print("\nThe floor (our HTTP server + Pyramid, no channelstream):\n")
            print(floor_table(floor))
            print("\n".join(floor_rounds(floor)))
        if not args.no_md:
            if floor:
                write_floor_md(report, floor, FLOOR_MD)
            write_benchmarks_md(report, rows, REPO / "BENCHMARKS.md")
            print("table written to BENCHMARKS.md")
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    ensure_loadgen()
    ensure_071()
    if "soketi" in args.servers.split(","):
        ensure_soketi()
    check_signer()
    if args.setup_only:
        return

    servers = [s for s in args.servers.split(",") if s]
    notes = []
    if "new" in servers and not new_server_available():
        notes.append(
            "channelstream's server (channelstream/server.py, development.ini) was not "
            "in the repo: only 0.7.1 ran."
        )
        log(notes[-1])
        servers.remove("new")
    wanted = [s for s in args.scenarios.split(",") if s]
    scenarios = [s for s in SCENARIOS if not wanted or s["name"] in wanted]
    started = time.monotonic()
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results = {}
    # server ports below the ephemeral range, from a random base so that two benchmarks
    # started at once do not pick the same ones
    port = random.randrange(20000, 30000)
    calibration = None
    if not args.no_calibrate:
        # what the load generator costs per received message when the server is not the
        # limit: fanout_max against a small Node server, one message per frame
        scen = SCENARIOS[0]
        params = dict(scen["params"], timeLimit=120, **(scen["quick"] if args.quick else {}))
        port = free_port(port + 1)
        log(f"calibration: fanout_max against {LABEL['mock']} on :{port}")
        calibration = run_once("mock", scen, params, args, port)
        log(
            "    ",
            json.dumps(
                {
                    k: calibration.get(k)
                    for k in (
                        "error",
                        "delivered_per_s",
                        "loadgen_cpu_us_per_msg",
                        "loadgen_sys_us_per_msg",
                        "loadgen_cpu_util",
                        "server_cpu_us_per_delivery",
                    )
                }
            ),
        )
    for si, scen in enumerate(scenarios):
        params = dict(scen["params"])
        if args.quick:
            params.update(scen.get("quick", {}))
        params.setdefault("timeLimit", 120)
        results[scen["name"]] = {w: [] for w in SERVERS}
        for w in ("floor", "floor_bare"):
            if w in servers and scen["name"] in FLOOR_SCENARIOS:
                results[scen["name"]][w] = []
        here = [
            w
            for w in servers
            if (w != "soketi" or scen.get("soketi"))
            and (w not in ("floor", "floor_bare") or scen["name"] in FLOOR_SCENARIOS)
        ]
        for rnd in range(args.rounds):
            # the order turns from one round (and scenario) to the next
            k = (rnd + si) % len(here)
            order = here[k:] + here[:k]
            for which in order:
                port = free_port(port + 1)
                log(f"{scen['name']} round {rnd + 1}/{args.rounds}: {LABEL[which]} on :{port}")
                r = run_once(which, scen, params, args, port)
                results[scen["name"]][which].append(r)
                brief = {
                    k: r.get(k)
                    for k in (
                        "error",
                        "delivered_per_s",
                        "requests_per_s",
                        "connects_per_s",
                        "rss_kib_per_conn",
                        "idle_server_cpu_util",
                        "lost",
                        "duplicated",
                        "latency_ms",
                        "server_cpu_us_per_delivery",
                        "server_cpu_us_per_request",
                        "loadgen_cpu_us_per_msg",
                    )
                    if k in r
                }
                log("   ", json.dumps(brief))
                time.sleep(0.5)
    took = time.monotonic() - started
    rows = summarize(results)
    command = "bash bench/run.sh" + ("" if len(sys.argv) == 1 else " " + " ".join(sys.argv[1:]))
    report = {
        "date": date,
        "command": command,
        "took_s": took,
        "rounds": args.rounds,
        "quick": args.quick,
        "new_ini": args.new_ini,
        "machine": machine_info(),
        "notes": notes,
        "scenarios": [
            {
                "name": s["name"],
                "title": s["title"],
                "kind": s["kind"],
                "params": dict(s["params"], **(s.get("quick", {}) if args.quick else {})),
            }
            for s in scenarios
        ],
        "summary": rows,
        "calibration": calibration,
        "nice": args.nice,
        "runs": results,
    }
    floor = floor_summary(results)
    if floor:
        report["floor_summary"] = floor
    out = RESULTS / f"{stamp}.json"
    report["results_file"] = str(out.relative_to(REPO))
    text = json.dumps(report, indent=1, default=str)
    out.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(table(rows))
    if floor:
        print("\nThe floor (our HTTP server + Pyramid, no channelstream):\n")
        print(floor_table(floor))
        print("\n".join(floor_rounds(floor)))
        if not args.no_md:
            write_floor_md(report, floor, FLOOR_MD)
            print(f"floor table written to {FLOOR_MD.relative_to(REPO)}")
    for line in run_notes(results)[0]:
        print("invalid:", line)
    print(f"\nresults: {out.relative_to(REPO)} (took {took:.0f} s)")
    if not args.no_md:
        write_benchmarks_md(report, rows, REPO / "BENCHMARKS.md")
        print("table written to BENCHMARKS.md")


if __name__ == "__main__":
    main()
