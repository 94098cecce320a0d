"""GET /metrics on a real server: every counter moves by what the traffic did, the
allow-list and signatures decide who reads it, and the access log never keeps a secret."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml
from itsdangerous import TimestampSigner

from tests.e2e.helpers import FrameReader, clients, handshake, name, open_ws
from tests.support.clients import listen
from tests.support.metrics import Samples, fetch, parse, scrape
from tests.support.server import SECRET, ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

MAX_QUEUED = 256 * 1024
MESSAGE_ROUTE = {"route": "channelstream.message", "method": "POST", "status": "200"}


@pytest.fixture(scope="module")
def mnode(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {"max_queued_bytes": MAX_QUEUED, "gc_conns_after": 30, "heartbeat_interval": 5}
    with ServerProcess(settings=settings, log_path=logs_dir / "metrics.log") as server:
        yield server


def moved(before: Samples, after: Samples, name_: str, **labels: str) -> float:
    return after.value(name_, **labels) - before.value(name_, **labels)


def scrape_until(node: ServerProcess, check: Callable[[Samples], bool], what: str) -> Samples:
    """The first scrape that passes `check` (a session ends after its close is read)."""
    found: Samples = wait_until(
        lambda: samples if check(samples := scrape(node.url)) else None, what=what
    )
    return found


def test_the_scrape_is_prometheus_text_with_every_required_name(mnode: ServerProcess) -> None:
    status, kind, body = fetch(mnode.url)
    assert status == 200 and kind.startswith("text/plain; version=")
    names = parse(body).names()
    for required in (
        "channelstream_connections",
        "channelstream_users",
        "channelstream_channels",
        "channelstream_messages_published_total",
        "channelstream_deliveries_total",
        "channelstream_frames_sent_total",
        "channelstream_slow_consumers_total",
        "channelstream_catchup_events_total",
        "channelstream_engine_up",
        "channelstream_engine_errors_total",
        "channelstream_gc_collected_total",
        "channelstream_limit_refusals_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ):
        assert required in names, required
    assert parse(body).value("channelstream_engine_up") == 1


def test_publishing_to_attached_sockets_moves_each_counter_by_its_share(
    mnode: ServerProcess,
) -> None:
    channel, sockets, messages = name("counted"), 3, 5
    conn_ids = [mnode.connect(name("reader"), [channel]) for _ in range(sockets)]
    before = scrape(mnode.url)
    with clients(*(open_ws(mnode, conn_id) for conn_id in conn_ids)) as readers:
        attached = scrape(mnode.url)
        assert moved(before, attached, "channelstream_connections", transport="websocket") == 3
        for n in range(messages):
            mnode.publish(channel, "counter", {"n": n})
            # One at a time: each message is its own batch, one frame per socket.
            for reader in readers:
                reader.messages(n + 1, type_="message")
        after = scrape(mnode.url)
    assert moved(before, after, "channelstream_messages_published_total") == messages
    assert moved(before, after, "channelstream_deliveries_total", transport="websocket") == 15
    assert moved(before, after, "channelstream_deliveries_total", transport="longpoll") == 0
    assert moved(before, after, "channelstream_frames_sent_total") == 15
    assert moved(before, after, "channelstream_http_requests_total", **MESSAGE_ROUTE) == 5
    duration = "channelstream_http_request_duration_seconds_count"
    assert moved(before, after, duration, route="channelstream.message") == 5
    # The clients close with 1000; the sessions end, and the gauge goes back.
    closed = scrape_until(
        mnode,
        lambda now: moved(before, now, "channelstream_ws_closes_total", code="1000") >= 3,
        "three closes counted",
    )
    assert moved(before, closed, "channelstream_ws_closes_total", code="1000") == 3
    assert moved(before, closed, "channelstream_connections", transport="websocket") == 0


def test_catch_up_and_gaps_are_counted(mnode: ServerProcess) -> None:
    channel = name("behind")
    conn_id = mnode.connect(name("late"), [channel])
    for n in range(4):
        mnode.publish(channel, "early", {"n": n})
    before = scrape(mnode.url)
    # Attached after four messages: they arrive as catch-up.
    with clients(open_ws(mnode, conn_id)) as (late,):
        assert len(late.messages(4, type_="message")) == 4
    # A resume from an epoch the stream never had: a gap, announced.
    other = mnode.connect(name("lost"), [channel])
    resume = {"channels": {channel: ["no-such-epoch", 2]}}
    with clients(open_ws(mnode, other, resume=resume)) as (lost,):
        lost.read_until(lambda: [m for m in lost.received if m.get("type") == "gap"])
    after = scrape(mnode.url)
    assert moved(before, after, "channelstream_catchup_events_total") >= 4
    assert moved(before, after, "channelstream_deliveries_total", transport="websocket") >= 4
    assert moved(before, after, "channelstream_gaps_total", reason="epoch") == 1


def test_long_poll_deliveries_are_labelled_longpoll(mnode: ServerProcess) -> None:
    channel = name("polled")
    conn_id = mnode.connect(name("poller"), [channel])
    before = scrape(mnode.url)
    mnode.publish(channel, "poll", {"n": 1})
    mnode.publish(channel, "poll", {"n": 2})
    got = listen(mnode.url, conn_id)
    assert [m["message"]["n"] for m in got if m.get("type") == "message"] == [1, 2]
    after = scrape(mnode.url)
    assert moved(before, after, "channelstream_deliveries_total", transport="longpoll") == 2


def test_a_slow_consumer_is_counted(mnode: ServerProcess) -> None:
    channel = name("flood")
    slow_conn = mnode.connect(name("slow"), [channel])
    before = scrape(mnode.url)
    sock, head = handshake(mnode.port, f"/ws?conn_id={slow_conn}", rcvbuf=4096)
    assert head.startswith(b"HTTP/1.1 101")
    payload = "z" * 60_000
    with sock:
        for _ in range(12):  # ~10 MB: more than any kernel buffer on the way
            items = [
                {"channel": channel, "user": "flood", "message": {"n": i, "p": payload}}
                for i in range(14)
            ]
            mnode.post("/message", items)
        sock.settimeout(10)
        code, _ = FrameReader(sock).until_close()
        assert code == 4008
    after = scrape_until(
        mnode,
        lambda now: moved(before, now, "channelstream_slow_consumers_total") > 0,
        "the slow consumer counted",
    )
    assert moved(before, after, "channelstream_slow_consumers_total") == 1
    assert moved(before, after, "channelstream_ws_closes_total", code="4008") == 1


def test_an_address_outside_the_allow_list_gets_403_unless_it_signs(mnode: ServerProcess) -> None:
    assert fetch(mnode.url, source="127.0.0.1")[0] == 200
    status, kind, body = fetch(mnode.url, source="127.0.0.2")
    assert status == 403 and kind.startswith("application/json")
    assert "127.0.0.2" in json.loads(body)["request"]
    # A signed request from anywhere may read them (Prometheus elsewhere, with the key).
    status, _, body = fetch(mnode.url, source="127.0.0.2", headers=mnode.headers())
    assert status == 200 and "channelstream_engine_up" in body
    bad = {"x-channelstream-secret": TimestampSigner("not-the-key").sign("x").decode()}
    assert fetch(mnode.url, source="127.0.0.2", headers=bad)[0] == 401
    refused = requests.post(mnode.url + "/metrics", timeout=10)
    assert refused.status_code == 405


def test_refusals_and_denials_show_in_the_request_counter(mnode: ServerProcess) -> None:
    before = scrape(mnode.url)
    fetch(mnode.url, source="127.0.0.2")
    after = scrape(mnode.url)
    denied = {"route": "channelstream.metrics", "method": "GET", "status": "403"}
    assert moved(before, after, "channelstream_http_requests_total", **denied) == 1


ACCESS = re.compile(
    r"^\S+ \S+ \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
    r'"GET (?P<target>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$'
)


def test_each_request_gets_a_combined_access_line_with_the_secret_masked(
    mnode: ServerProcess,
) -> None:
    assert mnode.log_path is not None
    signed = TimestampSigner(SECRET).sign("channelstream").decode()
    marker = uuid.uuid4().hex
    answer = requests.get(
        f"{mnode.url}/info?secret={signed}&m={marker}",
        headers={"Referer": f"http://app.example/?secret={signed}", "User-Agent": "probe/1"},
        timeout=10,
    )
    assert answer.status_code == 200
    log = mnode.log_path
    wait_until(lambda: marker in log.read_text(errors="replace"), what="the access line")
    lines = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    assert len(lines) == 1
    line = lines[0].split("[channelstream.access] ", 1)[1]
    parts = ACCESS.match(line)
    assert parts is not None, line
    assert parts["target"] == f"/info?secret=***&m={marker}"
    assert parts["status"] == "200" and parts["ref"] == "http://app.example/?secret=***"
    assert parts["ua"] == "probe/1"
    assert signed not in lines[0] and signed.rsplit(".", 1)[1] not in lines[0]


def test_with_log_format_json_every_log_line_is_json(tmp_path: Path) -> None:
    log = tmp_path / "json.log"
    settings = {"log_format": "json", "log_level": "DEBUG"}
    with ServerProcess(settings=settings, log_path=log) as server:
        marker = uuid.uuid4().hex
        signed = server.headers()["x-channelstream-secret"]
        assert requests.get(f"{server.url}/info?secret={signed}&m={marker}", timeout=10).ok
        requests.get(server.url + "/no-such-page", timeout=10)
        wait_until(lambda: marker in log.read_text(errors="replace"), what="the access line")
    entries = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Starting server in PID"):
            continue  # pserve's own line, on its stdout (pserve -q leaves it out)
        entries.append(json.loads(line))
    assert len(entries) >= 4
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    access = [entry for entry in entries if marker in entry["message"]]
    assert len(access) == 1 and access[0]["logger"] == "channelstream.access"
    fields = access[0]["http"]
    assert fields["method"] == "GET" and fields["status"] == 200
    assert fields["path"] == f"/info?secret=***&m={marker}"
    assert signed not in json.dumps(entries)
    assert any(entry["message"].startswith("channelstream listening") for entry in entries)


DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC_NAME = re.compile(r"\b(?:channelstream|process)_[a-z_]+\b")


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dashboard["panels"], "a dashboard with panels"
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert all(panel["targets"] for panel in dashboard["panels"])
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    found = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"ChannelstreamEngineDown", "ChannelstreamSlowConsumers"} <= {r["alert"] for r in found}
    assert {"ChannelstreamGapRate", "ChannelstreamHttp5xxRate"} <= {r["alert"] for r in found}
    assert all(rule["expr"] and rule["annotations"]["summary"] for rule in found)
    return [str(rule["expr"]) for rule in found]


def test_every_metric_the_dashboard_and_the_alerts_use_is_in_a_real_scrape(
    mnode: ServerProcess,
) -> None:
    # Labelled series exist once counted: a close and a gap first.
    channel = name("named")
    conn_id = mnode.connect(name("namer"), [channel])
    mnode.publish(channel, "x", {"n": 1})
    with clients(open_ws(mnode, conn_id, resume={"channels": {channel: ["other", 1]}})) as (c,):
        c.read_until(lambda: [m for m in c.received if m.get("type") == "gap"])
    scrape_until(
        mnode, lambda now: now.total("channelstream_ws_closes_total") > 0, "a close counted"
    )
    scraped = scrape(mnode.url).names()
    used = {
        name_ for expr in dashboard_exprs() + alert_exprs() for name_ in METRIC_NAME.findall(expr)
    }
    assert len(used) >= 15
    assert used - scraped == set()
