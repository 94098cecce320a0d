"""Webhooks from a real server process to a real HTTP receiver in the test: every event,
signed, in order, retried with the same ids, given up after webhook_retry_for, the cap on
what waits, and that nothing on the path of messages waits for a slow backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.clients import WSClient
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Receiver, receiving

WEBHOOK_SECRET = "webhook-test-secret-0123456789"


def webhook_settings(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {
        "webhook_url": receiver.url,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_timeout": 1,
        "webhook_retry_for": 3,
        "gc_conns_after": 2,
        "gc_conns_interval": 0.2,
        "heartbeat_interval": 1,
        **extra,
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving(WEBHOOK_SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def node(receiver: Receiver, logs_dir: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(settings=webhook_settings(receiver), log_path=logs_dir / "webhooks.log")
    with process:
        yield process


@pytest.fixture
def hook(receiver: Receiver) -> Iterator[Receiver]:
    receiver.clear()
    receiver.status, receiver.delay = 204, 0.0
    yield receiver
    receiver.status, receiver.delay = 204, 0.0


def webhook_state(node: ServerProcess) -> dict[str, Any]:
    answer = node.call("GET", "/admin/admin.json")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["webhook"])


def seq(event: dict[str, Any]) -> int:
    return int(event["id"].rpartition("-")[2])


def test_every_event_once_signed_with_its_fields(node: ServerProcess, hook: Receiver) -> None:
    started_ms = time.time() * 1000
    conn_id = node.connect("alice", ["hook-a", "hook-b"])
    node.post("/unsubscribe", {"conn_id": conn_id, "channels": ["hook-b"]})
    node.post("/disconnect", {"conn_id": conn_id})
    hook.wait_for(10)
    time.sleep(0.5)  # every GC pass meanwhile, and nothing more
    events = hook.delivered()
    assert [(e["name"], e.get("channel"), e.get("user")) for e in events] == [
        ("user_online", None, "alice"),
        ("channel_occupied", "hook-a", None),
        ("user_joined", "hook-a", "alice"),
        ("channel_occupied", "hook-b", None),
        ("user_joined", "hook-b", "alice"),
        ("user_parted", "hook-b", "alice"),
        ("channel_vacated", "hook-b", None),
        ("user_parted", "hook-a", "alice"),
        ("channel_vacated", "hook-a", None),
        ("user_offline", None, "alice"),
    ]
    for event in events:
        assert set(event) == {"name", "id", "time_ms"} | {"channel", "user"} & set(event)
        assert started_ms - 1000 < event["time_ms"] < time.time() * 1000 + 1000
    assert len({event["id"] for event in events}) == len(events)
    assert [seq(event) for event in events] == sorted(seq(event) for event in events)
    for request in hook.requests:
        assert request.verified  # channelstream_client.verify_webhook accepts it
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Channelstream-Signature"].startswith("t=")
    state = webhook_state(node)
    assert state["enabled"] and state["pending"] == 0 and state["this_node_sends"]
    assert state["last_success"] is not None and state["url"] == hook.url


def test_a_failed_batch_is_retried_with_the_same_ids_until_it_goes(
    node: ServerProcess, hook: Receiver
) -> None:
    # A 500, then an answer slower than webhook_timeout (1 s), then accepted.
    hook.script = [(500, 0.0), (204, 1.6)]
    node.connect("bob", [])
    wait_until(lambda: len(hook.requests) >= 3, timeout=10, what="three attempts")
    first, second, third = hook.requests[:3]
    assert first.events == second.events == third.events
    assert [e["name"] for e in first.events] == ["user_online"]
    assert first.status == 500 and third.status == 204
    # Backoff: the second attempt waited at least the first backoff (0.5 s).
    assert second.at - first.at >= 0.45
    node.connect("carol", [])
    assert hook.wait_for(1, user="carol") == ["user_online"]
    online = [e["user"] for e in hook.delivered() if e["name"] == "user_online"]
    assert online == ["bob", "carol"]
    state = webhook_state(node)
    assert state["failures"] >= 2 and state["failing_since"] is None
    assert state["last_error"] and state["last_failure"] is not None


def test_a_backend_down_longer_than_retry_for_loses_that_batch_only(
    node: ServerProcess, hook: Receiver
) -> None:
    hook.status = 503
    node.connect("dave", [])
    wait_until(lambda: webhook_state(node)["abandoned"] >= 1, timeout=10, what="given up")
    hook.status = 204
    node.connect("erin", [])
    assert hook.wait_for(1, user="erin") == ["user_online"]
    assert "user_online" not in hook.names(user="dave")  # given up; what followed went
    assert "gave up 1 event" in node.log_path.read_text()  # type: ignore[union-attr]


def test_a_slow_backend_never_delays_messages(node: ServerProcess, hook: Receiver) -> None:
    hook.delay = 5.0  # every attempt times out (webhook_timeout is 1 s)
    reader = WSClient(node.ws_url, node.connect("reader", ["hook-fast"]))
    try:
        node.connect("frank", ["hook-fast"])  # transitions waiting for the webhook
        started = time.monotonic()
        for n in range(20):
            node.publish("hook-fast", "frank", {"n": n})
        reader.messages(20, timeout=5, type_="message")
        assert time.monotonic() - started < 2
        assert hook.delivered() == []
    finally:
        reader.close()
        hook.delay = 0.0
    hook.wait_for(1, user="frank")


@pytest.mark.timeout(60)
def test_the_cap_drops_the_oldest_counts_and_logs_them(logs_dir: Path) -> None:
    log = logs_dir / "webhooks-cap.log"
    with receiving(WEBHOOK_SECRET) as receiver:
        receiver.status = 503
        settings = webhook_settings(
            receiver, webhook_max_pending=10, webhook_retry_for=60, gc_conns_after=60
        )
        with ServerProcess(settings=settings, log_path=log) as capped:
            for n in range(6):
                capped.connect(f"capped-{n}", [f"cap-{n}"])  # 3 events each: 18 in all
            wait_until(lambda: webhook_state(capped)["failing_since"], timeout=10, what="a failure")
            state = webhook_state(capped)
            assert (state["dropped"], state["pending"]) == (8, 10)
            assert state["last_error"].startswith("503")
            wait_until(lambda: "oldest pending events dropped" in log.read_text(), what="log")
            receiver.status = 204
            receiver.wait_for(10)
            time.sleep(0.3)
            delivered = receiver.delivered()
            assert [seq(event) for event in delivered] == list(range(9, 19))  # the newest
            assert webhook_state(capped)["pending"] == 0


def test_admin_json_without_a_webhook_says_it_is_off(server: ServerProcess) -> None:
    answer = requests.get(server.url + "/admin/admin.json", headers=server.headers(), timeout=5)
    state = answer.json()["webhook"]
    assert state["enabled"] is False and state["pending"] == 0 and state["sender"] is None
