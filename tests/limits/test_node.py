"""This node's limits: what /ws and /listen are admitted by, and the frame rule of sockets."""

from __future__ import annotations

from typing import Any

import pytest

from channelstream.errors import LimitReached
from channelstream.limits.node import NODE_FULL_RETRY_AFTER, NodeLimits
from channelstream.settings import parse_settings
from tests.support.memory import Clock


def limits(attached: dict[str, Any], clock: Clock, **settings: Any) -> NodeLimits:
    parsed = parse_settings(
        {
            "channelstream.environment": "development",
            **{f"channelstream.{key}": str(value) for key, value in settings.items()},
        },
        environ={},
    )
    return NodeLimits(parsed, attached, clock)


def refused(node: NodeLimits, address: str, conn_id: str | None = None, **kw: Any) -> Any:
    with pytest.raises(LimitReached) as caught:
        node.admit(address, conn_id, **{"poll": False, **kw})
    return caught.value


def test_an_address_past_its_burst_waits_and_others_do_not() -> None:
    clock = Clock(0.0)
    node = limits({}, clock, upgrades_per_second_per_address=2, upgrades_burst_per_address=3)
    for _ in range(3):
        node.admit("10.0.0.1", None, poll=False)
    error = refused(node, "10.0.0.1")
    assert (error.status, error.limit, error.retry_after) == (
        429,
        "upgrades_per_second_per_address",
        1,
    )
    assert error.body["limit"] == "upgrades_per_second_per_address"
    assert "10.0.0.1" in error.body["request"][0]
    node.admit("10.0.0.2", None, poll=False)
    clock.advance(0.5)
    node.admit("10.0.0.1", None, poll=False)  # a token again


def test_a_full_node_refuses_new_sockets_but_not_one_that_replaces_its_own() -> None:
    attached = {"c1": object(), "c2": object()}
    node = limits(attached, Clock(0.0), max_connections=2)
    error = refused(node, "10.0.0.1", "c3")
    assert (error.status, error.limit, error.retry_after) == (
        503,
        "max_connections",
        NODE_FULL_RETRY_AFTER,
    )
    node.admit("10.0.0.1", "c1", poll=False)  # the same connection's new socket
    node.admit("10.0.0.1", "c2", poll=True)
    del attached["c2"]
    node.admit("10.0.0.1", "c3", poll=False)


def test_a_poll_continuing_the_last_one_costs_no_token() -> None:
    clock = Clock(0.0)
    attached: dict[str, Any] = {}
    node = limits(attached, clock, upgrades_per_second_per_address=1, upgrades_burst_per_address=1)
    node.admit("10.0.0.1", "c1", poll=True)  # the first poll: the only token
    for _ in range(20):  # answered, asked again at once: each continues the last
        node.poll_ended("c1")
        node.admit("10.0.0.1", "c1", poll=True)
    refused(node, "10.0.0.1", "c2", poll=True)  # another connection's first poll pays
    refused(node, "10.0.0.1", "c1", poll=True)  # a second poll without one ending pays
    node.poll_ended("c1")
    refused(node, "10.0.0.1", "c1", poll=False)  # a WebSocket always pays
    attached["c1"] = object()  # a poll held for c1 ...
    node.poll_ended("c1")
    refused(node, "10.0.0.1", "c1", poll=True)  # ... and one replacing it: pays


def test_limits_at_zero_are_off() -> None:
    node = limits(
        {f"c{n}": object() for n in range(1000)}, Clock(0.0), upgrades_per_second_per_address=0
    )
    for _ in range(10_000):
        node.admit("10.0.0.1", None, poll=False)
    assert node.upgrades is None and node.frames is not None
    assert limits({}, Clock(0.0), client_messages_per_second=0).frames is None


class Session:
    def __init__(self, peer: Any) -> None:
        self.conn_id = "c1"
        self.last_seen = 0.0
        self.frame_bucket = None
        self.sock = peer


class Peer:
    def getpeername(self) -> tuple[str, int]:
        return ("10.0.0.9", 4242)


def test_a_socket_bucket_is_made_on_its_first_frame_and_refusals_are_counted() -> None:
    node = limits({}, Clock(0.0), client_messages_per_second=1, client_messages_burst=2)
    rate = node.frames
    assert rate is not None
    session = Session(Peer())
    assert [rate.allows(session) for _ in range(3)] == [True, True, False]
    assert session.frame_bucket is not None
    assert node.refusals.counts["client_messages_per_second"] == 1
    session.last_seen = 1.0
    assert rate.allows(session)
    gone = Session(None)  # a socket without a peer any more
    gone.frame_bucket = session.frame_bucket
    assert not rate.allows(gone)
    assert node.refusals.counts["client_messages_per_second"] == 2
