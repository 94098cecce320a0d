"""Webhooks and presence_grace over three real nodes on one real redis-server: each event
once for the cluster whichever nodes learn it, one sender, the grace across nodes, and a
node killed with SIGKILL (the sender itself): its users go offline once, after node_ttl, and
what it had not sent yet is sent by a survivor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import NODE_TTL, cluster, wait_until
from tests.cluster.test_cluster import drain, of_type
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess
from tests.support.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.redis

WEBHOOK_SECRET = "cluster-webhook-secret-0123456789"
GRACE = 1.5


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    with receiving(WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def hooked(
    redis_server: RedisServer, hook: Receiver, logs_dir: Path
) -> Iterator[list[ServerProcess]]:
    settings = {
        "webhook_url": hook.url,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_timeout": 1,
        "presence_grace": GRACE,
    }
    with cluster(redis_server.url, logs_dir, name="hooked", **settings) as running:
        yield running


def webhook_state(node: ServerProcess) -> dict[str, Any]:
    return dict(node.call("GET", "/admin/admin.json").json()["webhook"])


def about(hook: Receiver, **fields: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (event["name"], event.get("channel"), event.get("user"))
        for event in hook.delivered()
        if all(event.get(key) == value for key, value in fields.items())
    ]


def test_one_event_per_transition_whichever_nodes_learn_it(
    hooked: list[ServerProcess], hook: Receiver
) -> None:
    first = hooked[0].connect("bob", ["multi"])
    second = hooked[1].connect("bob", ["multi"])  # online on two nodes: still one of each
    hooked[2].connect("bob2", ["multi"])
    hook.wait_for(2, user="bob2")
    senders = [webhook_state(node)["this_node_sends"] for node in hooked]
    assert senders.count(True) == 1
    hooked[2].post("/disconnect", {"conn_id": first})
    hooked[0].post("/disconnect", {"conn_id": second})
    hook.wait_for(4, user="bob")
    time.sleep(GRACE)  # every node's GC passes meanwhile, and the grace: nothing more
    assert about(hook, user="bob") == [
        ("user_online", None, "bob"),
        ("user_joined", "multi", "bob"),
        ("user_parted", "multi", "bob"),
        ("user_offline", None, "bob"),
    ]
    assert about(hook, channel="multi") == [
        ("channel_occupied", "multi", None),
        ("user_joined", "multi", "bob"),
        ("user_joined", "multi", "bob2"),
        ("user_parted", "multi", "bob"),
    ]
    assert all(request.verified for request in hook.requests)


def test_the_grace_spans_nodes_and_parted_follows_when_it_ends(
    hooked: list[ServerProcess], hook: Receiver
) -> None:
    hooked[0].post("/channel_config", {"grace-room": {"notify_presence": True}})
    watcher = WSClient(hooked[0].ws_url, hooked[0].connect("gwatcher", ["grace-room"]))
    page = WSClient(hooked[1].ws_url, hooked[1].connect("alice", ["grace-room"]))
    watcher.messages(1, type_="presence")
    hook.wait_for(2, user="alice")
    page.close()  # a reload: her socket on node 1 goes...
    time.sleep(0.5)  # ...is collected meanwhile (GC every 0.25 s)...
    again = WSClient(hooked[2].ws_url, hooked[2].connect("alice", ["grace-room"]))  # ...on node 2
    drain(watcher, GRACE + 1)
    assert [p["message"]["action"] for p in of_type(watcher, "presence")] == ["joined"]
    assert about(hook, user="alice") == [
        ("user_online", None, "alice"),
        ("user_joined", "grace-room", "alice"),
    ]
    again.close()  # she leaves for good: parted once the grace has passed
    closed = time.monotonic()
    watcher.messages(2, type_="presence", timeout=GRACE + 5)
    assert time.monotonic() - closed >= GRACE - 0.1
    drain(watcher, 1)
    actions = [(p["user"], p["message"]["action"]) for p in of_type(watcher, "presence")]
    assert actions == [("alice", "joined"), ("alice", "parted")]
    hook.wait_for(4, user="alice")
    assert about(hook, user="alice")[2:] == [
        ("user_parted", "grace-room", "alice"),
        ("user_offline", None, "alice"),
    ]
    watcher.close()


@pytest.mark.timeout(90)
def test_a_killed_sender_is_replaced_and_its_users_go_offline_once(
    hooked: list[ServerProcess], hook: Receiver
) -> None:
    (sender,) = [node for node in hooked if webhook_state(node)["this_node_sends"]]
    others = [node for node in hooked if node is not sender]
    doomed = WSClient(sender.ws_url, sender.connect("carol", ["doomed"]))  # held by the sender
    hook.wait_for(2, user="carol")
    hook.status = 503  # the backend is down while the sender dies
    others[0].connect("dave", [])
    wait_until(lambda: webhook_state(others[0])["failing_since"], what="a failing batch")
    sender.kill()
    killed = time.monotonic()
    doomed.close()
    hook.status = 204
    # What the dead sender had not delivered comes from a survivor that took the lease...
    hook.wait_for(1, user="dave", timeout=15)
    wait_until(
        lambda: sum(webhook_state(node)["this_node_sends"] for node in others) == 1,
        what="one surviving sender",
    )
    # ...and its users go offline once, after node_ttl (then the grace).
    hook.wait_for(4, user="carol", timeout=NODE_TTL + GRACE + 10)
    assert time.monotonic() - killed >= NODE_TTL
    time.sleep(1)  # the survivors' GC passes: nothing more
    assert about(hook, user="carol") == [
        ("user_online", None, "carol"),
        ("user_joined", "doomed", "carol"),
        ("user_parted", "doomed", "carol"),
        ("user_offline", None, "carol"),
    ]
    assert about(hook, channel="doomed")[-1] == ("channel_vacated", "doomed", None)
    assert about(hook, user="dave") == [("user_online", None, "dave")]
    state = webhook_state(others[1])
    assert state["pending"] == 0 and state["failing_since"] is None
    # A sender stopped the polite way lets go of its lease: the last node sends at once,
    # well before the lease (node_ttl + webhook_timeout = 4 s) would have lapsed.
    (current,) = [node for node in others if webhook_state(node)["this_node_sends"]]
    (last,) = [node for node in others if node is not current]
    current.stop()
    stopped = time.monotonic()
    last.connect("erin", [])
    hook.wait_for(1, user="erin", timeout=10)
    assert time.monotonic() - stopped < NODE_TTL
    assert webhook_state(last)["this_node_sends"]
