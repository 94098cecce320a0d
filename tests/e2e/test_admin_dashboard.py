"""The admin panel's polls over a real server: the summary stays small with 200 channels x 50
stored messages (admin.json carries megabytes), the server samples trends by itself, the
lists page in natural order, bad parameters are 422 naming them, strangers get 403."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.clients import WSClient
from tests.support.server import ADMIN_SECRET, ServerProcess
from tests.support.waiting import wait_until

CHANNELS = 200
MESSAGES = 50
MINUTES = 2
# A message of about 200 bytes: the 10,000 of them make admin.json weigh megabytes.
TEXT = "x" * 200


@pytest.fixture(scope="module")
def server(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {"admin_trend_minutes": MINUTES, "gc_conns_after": 60, "gc_conns_interval": 1}
    with ServerProcess(settings=settings, log_path=logs_dir / "admin_dashboard.log") as node:
        yield node


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[requests.Session]:
    session = requests.Session()
    signed_in = session.post(
        server.url + "/admin/sign_in",
        data={"username": "admin", "password": ADMIN_SECRET},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text
    yield session
    session.close()


def get(session: requests.Session, server: ServerProcess, path: str, **params: str) -> bytes:
    answer = session.get(server.url + path, params=params, timeout=30)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return answer.content


def fill(server: ServerProcess) -> list[str]:
    """200 channels keeping 50 messages each, one connection in every channel."""
    names = [f"ch{n}" for n in range(CHANNELS)]
    config = {"store_history": True, "history_size": MESSAGES}
    for start in range(0, CHANNELS, 50):
        part = names[start : start + 50]
        server.connect(f"owner{start}", part, channel_configs=dict.fromkeys(part, config))
    for name in names:
        body = [{"channel": name, "user": "bot", "message": {"text": TEXT}}] * MESSAGES
        server.post("/message", body)
    return names


@pytest.mark.timeout(120)
def test_the_summary_stays_small_whatever_the_history(
    server: ServerProcess, admin: requests.Session
) -> None:
    empty = json.loads(get(admin, server, "/admin/summary.json"))
    assert empty["trends"]["minutes"] == MINUTES
    names = fill(server)

    legacy = get(admin, server, "/admin/admin.json")
    summary = get(admin, server, "/admin/summary.json")
    parsed = json.loads(summary)
    assert parsed["total_channels"] == CHANNELS
    assert parsed["total_unique_messages"] == CHANNELS * MESSAGES
    assert "channels" not in parsed and "users" not in parsed
    # admin.json keeps 0.7's shape, every message of every channel in it...
    assert len(json.loads(legacy)["channels"]) == CHANNELS
    assert len(legacy) > 2_000_000
    # ... the poll does not: its size is the trend series (at most MINUTES x 60 samples of
    # five numbers), whatever the history. Bounded by the longest the series can get.
    samples = MINUTES * 60
    assert len(summary) < 1_500 + 5 * samples * 12, len(summary)
    assert len(summary) < len(legacy) / 100
    # A page of 50 channels carries no history either, and the channel view only its own.
    channels_page = get(admin, server, "/admin/channels.json", limit="50")
    assert len(channels_page) < 20_000, len(channels_page)
    one = get(admin, server, "/admin/channel.json", name=names[7])
    assert len(json.loads(one)["history"]) == MESSAGES
    assert len(one) < 2 * MESSAGES * (len(TEXT) + 300)


@pytest.mark.timeout(90)
def test_the_server_samples_trends_by_itself(
    server: ServerProcess, admin: requests.Session
) -> None:
    server.connect("watcher", ["trend-room"])
    conn_id = server.connect("listener", ["trend-room"])
    # A node's first sample only sets where its counters stand: what was sent before it is
    # in no rate. On a fast machine this module's tests got here within the node's first
    # second, so the deliveries below came before that first sample and every rate was 0.
    wait_until(
        lambda: json.loads(get(admin, server, "/admin/summary.json"))["trends"]["end"],
        timeout=10,
        what="the node's first trend sample",
    )
    client = WSClient(server.ws_url, conn_id)
    try:
        for n in range(30):
            server.publish("trend-room", "bot", {"n": n})
        client.read_until(lambda: len(client.received) >= 30, timeout=10, what="30 messages")

        # The listener is the only socket: the deliveries are its messages (the first test
        # published thousands, with nobody listening).
        seen: list[dict[str, object]] = []

        def sampled() -> dict[str, object] | None:
            summary = json.loads(get(admin, server, "/admin/summary.json"))
            seen[:] = [summary]
            trends = summary["trends"]
            return trends if max(trends["deliveries"], default=0) > 0 else None

        try:
            trends = wait_until(sampled, timeout=30, what="a sample with deliveries")
        except AssertionError as failed:
            # What the node answered last, and what it logged: enough to tell a sampler
            # that stopped from one that samples nothing.
            log = server.log_path.read_text()[-3000:] if server.log_path else ""
            raise AssertionError(f"{failed}\nlast summary: {seen}\nserver log: {log}") from None
        assert isinstance(trends, dict)
        assert max(trends["messages"]) > 0  # type: ignore[type-var]
        assert max(trends["websocket"]) >= 1  # type: ignore[type-var]
        assert len(trends["connections"]) <= MINUTES * 60  # type: ignore[arg-type]

        def channel_rated() -> float:
            view = json.loads(get(admin, server, "/admin/channel.json", name="trend-room"))
            return float(max(view["rates"], default=0))

        assert wait_until(channel_rated, timeout=10, what="the channel's rate") > 0
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_the_lists_page_in_natural_order(server: ServerProcess, admin: requests.Session) -> None:
    for n in (3, 20, 100, 1):
        server.connect(f"page-user{n}", [f"pg{n}"])
    pages = []
    for offset in range(0, 4, 2):
        answer = json.loads(
            get(admin, server, "/admin/channels.json", q="pg", limit="2", offset=str(offset))
        )
        assert answer["total"] == 4
        pages.append([row["name"] for row in answer["items"]])
    assert pages == [["pg1", "pg3"], ["pg20", "pg100"]]
    users = json.loads(get(admin, server, "/admin/users.json", q="page-user", sort="-name"))
    assert [row["user"] for row in users["items"]] == [
        "page-user100",
        "page-user20",
        "page-user3",
        "page-user1",
    ]


@pytest.mark.timeout(60)
def test_strangers_and_bad_parameters_are_refused(
    server: ServerProcess, admin: requests.Session
) -> None:
    for path in ("/admin/summary.json", "/admin/channels.json", "/admin/users.json"):
        stranger = requests.get(server.url + path, timeout=10, allow_redirects=False)
        assert stranger.status_code == 403
        assert stranger.json() == {"request": "Sign in as the admin first."}
        assert server.call("GET", path).status_code == 200  # a signed backend
    for path, params, field in (
        ("/admin/channels.json", {"limit": "1000"}, "limit"),
        ("/admin/channels.json", {"offset": "x"}, "offset"),
        ("/admin/users.json", {"sort": "rate"}, "sort"),
        ("/admin/channel.json", {}, "name"),
    ):
        answer = admin.get(server.url + path, params=params, timeout=10)
        assert answer.status_code == 422, (path, params, answer.text)
        assert list(answer.json()) == [field]
    missing = admin.get(server.url + "/admin/channel.json", params={"name": "nope"}, timeout=10)
    assert missing.status_code == 404 and missing.json() == {"name": ["No such channel."]}
