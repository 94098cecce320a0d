"""presence_grace in the real browser with the JS client and the demo chat: a page reload
shows the others no "left" + "joined"; a page closed for good shows "left" once the grace
has passed, not before."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.server import free_port
from tests.support.waiting import wait_until

from .conftest import ChannelstreamServer, ChatPage, DemoApp, start_demo, stop_process

pytestmark = pytest.mark.browser

GRACE = 3.0
CONN_ID = "() => window.chatDemo.connection.connectionId"

# The page's POST /connect waits a second before it goes, as on a slow network: long enough
# for the server to collect the connection the reloaded page left (its pagehide sent
# /disconnect, its socket closed), so that without the grace the others would see her go
# and come back.
SLOW_CONNECT = """
const open = XMLHttpRequest.prototype.open;
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this._url = String(url);
    return open.call(this, method, url, ...rest);
};
XMLHttpRequest.prototype.send = function (body) {
    if (this._url.endsWith('/connect')) {
        setTimeout(() => send.call(this, body), 1000);
    } else {
        send.call(this, body);
    }
};
"""


@pytest.fixture(scope="module")
def graceful(logs: Path) -> Iterator[DemoApp]:
    """channelstream with presence_grace, and a Pyramid demo on it (no proxy)."""
    server = ChannelstreamServer(
        free_port(),
        logs / "channelstream-grace.log",
        settings={
            "presence_grace": str(GRACE),
            "gc_conns_after": "5",
            "gc_conns_interval": "0.2",
            "heartbeat_interval": "1",
        },
    )
    server.start()
    demo: DemoApp | None = None
    try:
        demo = start_demo("pyramid", server.url, server.url, logs / "demo-grace.log")
        yield demo
    finally:
        if demo is not None:
            stop_process(demo.process)
        server.stop()


def presence_of(chat: ChatPage, user: str) -> list[str]:
    received: list[dict[str, Any]] = chat.trace("received")
    return [
        item["message"]["action"]
        for item in received
        if item.get("type") == "presence" and item.get("user") == user
    ]


@pytest.mark.timeout(90)
def test_a_reload_shows_nothing_and_leaving_shows_parted_after_the_grace(
    open_chat: Callable[..., ChatPage], graceful: DemoApp
) -> None:
    bob = open_chat("bob", base_url=graceful.url)
    alice = open_chat("alice", base_url=graceful.url, init_script=SLOW_CONNECT)
    expect(bob.page.locator("#users li[data-user=alice]")).to_be_visible()
    assert presence_of(bob, "alice") == ["joined"]

    before = alice.page.evaluate(CONN_ID)
    alice.page.reload()
    alice.expect_open()
    assert alice.page.evaluate(CONN_ID) != before  # a new connection, as a reload makes
    bob.page.wait_for_timeout((GRACE + 1) * 1000)  # the old connection's grace runs out
    assert presence_of(bob, "alice") == ["joined"]
    expect(bob.page.locator("#messages li.system", has_text="alice left")).to_have_count(0)
    expect(bob.page.locator("#users li[data-user=alice]")).to_be_visible()

    alice.page.close()
    closed = time.monotonic()
    wait_until(
        lambda: presence_of(bob, "alice") == ["joined", "parted"],
        timeout=GRACE + 8,
        what="alice's parted",
        interval=0.1,
    )
    assert time.monotonic() - closed >= GRACE - 0.2
    expect(bob.page.locator("#users li[data-user=alice]")).to_have_count(0)
    expect(bob.page.locator("#messages li.system", has_text="alice left")).to_have_count(1)
    bob.screenshot("presence-grace-bob")
