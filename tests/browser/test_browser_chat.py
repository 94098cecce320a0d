"""The JS client and the demo chat, in headless chromium against real servers.

Every page talks to channelstream through the `proxy` fixture, so a test can
cut the page's connections the hard way. Assertions are on what the page shows
(the message list, the people list, the status pill, the gap notice).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from itsdangerous import TimestampSigner
from playwright.sync_api import Browser, expect

from tests.support.waiting import wait_until

from .conftest import ChannelstreamServer, ChatPage, RedisStack, TcpProxy

pytestmark = pytest.mark.browser

OpenChat = Callable[..., ChatPage]
CONN_ID = "() => window.chatDemo.connection.connectionId"

# Makes every `new WebSocket(...)` throw, as a locked-down network or browser would.
BLOCK_WEBSOCKET = """
window.WebSocket = class BlockedWebSocket {
    constructor() { throw new DOMException('WebSocket blocked by the test', 'SecurityError'); }
};
"""


def assert_each_once(chat: ChatPage, expected: list[str]) -> None:
    """Each text shows exactly once, and in the order it was sent."""
    texts = chat.texts()
    counts = {text: texts.count(text) for text in expected}
    assert counts == {text: 1 for text in expected}, f"{chat.user} sees {texts}"
    positions = [texts.index(text) for text in expected]
    assert positions == sorted(positions), f"{chat.user} sees them out of order: {texts}"


def wait_until_channel_empty(server: ChannelstreamServer, channel: str) -> None:
    """Waits until the server's garbage collection has dropped every connection there."""

    def empty() -> bool:
        answer = server.api("POST", "/info", {"info": {"channels": [channel]}})
        answer.raise_for_status()
        info = answer.json()["channels"].get(channel, {})
        return bool(info.get("total_connections", 0) == 0)

    wait_until(empty, timeout=15, what=f"{channel} to have no connections", interval=0.2)


def wait_for_history(server: ChannelstreamServer, channel: str, texts: list[str]) -> None:
    """Waits until channelstream has stored `texts` in the channel's history."""

    def stored() -> bool:
        answer = server.api(
            "POST", "/info", {"info": {"channels": [channel], "include_history": True}}
        )
        answer.raise_for_status()
        history = answer.json()["channels"].get(channel, {}).get("history", [])
        found = [item["message"].get("text") for item in history]
        return all(text in found for text in texts)

    wait_until(stored, timeout=10, what=f"{texts} in the history of {channel}", interval=0.1)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("framework", ["pyramid", "flask"])
def test_two_users_chat_with_presence_and_typing(open_chat: OpenChat, framework: str) -> None:
    alice = open_chat("alice", framework)
    expect(alice.users()).to_have_count(1)
    bob = open_chat("bob", framework)

    # Presence: alice is told bob joined; bob got alice from the connect answer.
    for chat in (alice, bob):
        expect(chat.users()).to_have_count(2)
        expect(chat.page.locator("#users li[data-user=alice]")).to_be_visible()
        expect(chat.page.locator("#users li[data-user=bob]")).to_be_visible()
    expect(alice.page.locator("#messages li.system", has_text="bob joined")).to_be_visible()

    # "typing" user state: alice types without sending, bob sees it, and back.
    alice.page.fill("#message-input", "hello b")
    expect(bob.page.locator("#users li[data-user=alice][data-typing=true]")).to_be_visible()
    expect(bob.page.locator("#typing")).to_have_text("alice is typing…")
    expect(alice.page.locator("#users li[data-user=alice][data-typing=true]")).to_be_visible()
    expect(alice.page.locator("#typing")).to_have_text("")
    alice.screenshot(f"chat-{framework}-alice-typing")
    bob.screenshot(f"chat-{framework}-bob-sees-typing")

    alice.page.fill("#message-input", "hello bob")
    alice.page.click("#message-form button[type=submit]")
    expect(bob.page.locator("#users li[data-user=alice][data-typing=true]")).to_have_count(0)
    expect(bob.page.locator("#typing")).to_have_text("")
    bob.say("hi alice")
    bob.say("how are you?")
    for chat in (alice, bob):
        chat.expect_text("how are you?")
        assert_each_once(chat, ["hello bob", "hi alice", "how are you?"])
        expect(chat.page.locator("#messages li.message .author").first).to_have_text("alice")
    alice.screenshot(f"chat-{framework}-alice")
    bob.screenshot(f"chat-{framework}-bob")

    # bob leaves through the client API: alice sees him go at the next collection pass
    # (well before the 15 s after which an idle connection would be collected).
    bob.page.evaluate("() => window.chatDemo.connection.disconnect()")
    expect(bob.status).to_have_attribute("data-status", "closed")
    expect(alice.page.locator("#users li[data-user=bob]")).to_have_count(0, timeout=8_000)
    expect(alice.page.locator("#messages li.system", has_text="bob left")).to_be_visible()

    # carol just closes her tab: the page says goodbye on its way out.
    carol = open_chat("carol", framework)
    expect(alice.page.locator("#users li[data-user=carol]")).to_be_visible()
    carol.page.close()
    expect(alice.page.locator("#users li[data-user=carol]")).to_have_count(0, timeout=8_000)
    expect(alice.users()).to_have_count(1)


@pytest.mark.timeout(90)
def test_dropped_connection_resumes_exactly_once(
    open_chat: OpenChat, proxy: TcpProxy, channelstream: ChannelstreamServer
) -> None:
    alice = open_chat("alice")
    bob = open_chat("bob", "flask")
    bob.say("before the drop")
    alice.expect_text("before the drop")

    # Cut every browser connection to channelstream and refuse new ones for a while.
    proxy.block()
    try:
        expect(alice.status).to_have_attribute("data-status", "reconnecting", timeout=10_000)
        # bob still posts through his backend; channelstream keeps the messages.
        missed = [f"while alice was away {n}" for n in range(1, 4)]
        for text in missed:
            bob.say(text)
        # They were published (they are in the channel's history) while alice was cut off.
        wait_for_history(channelstream, alice.channel, missed)
        alice.page.wait_for_timeout(500)
        alice.screenshot("dropped-alice-reconnecting")
        assert not any(text in alice.texts() for text in missed)
    finally:
        proxy.unblock()

    alice.expect_open(timeout=20_000)
    bob.expect_open(timeout=20_000)
    bob.say("after the drop")
    for chat in (alice, bob):
        chat.expect_text("after the drop")
        assert_each_once(chat, ["before the drop", *missed, "after the drop"])
    statuses = alice.trace("statuses")
    assert "reconnecting" in statuses and statuses[-1] == "open", statuses
    # Everything could be replayed: no gap was reported.
    assert alice.trace("gaps") == []
    expect(alice.page.locator("#gap-notice")).to_be_hidden()
    alice.screenshot("dropped-alice-resumed")


@pytest.mark.timeout(120)
def test_server_restart_reconnects_and_reports_gap(
    open_chat: OpenChat, channelstream: ChannelstreamServer
) -> None:
    alice = open_chat("alice")
    bob = open_chat("bob")
    bob.say("before the restart")
    alice.expect_text("before the restart")
    old_conn_id = alice.page.evaluate(CONN_ID)

    channelstream.restart()

    # The pages find the new server, get a new connection through their backend
    # and are told that what happened in between is lost (in-memory engine).
    for chat in (alice, bob):
        chat.expect_open(timeout=30_000)
        expect(chat.page.locator("#gap-notice")).to_be_visible(timeout=10_000)
        expect(chat.page.locator("#gap-notice")).to_have_attribute("data-reason", "epoch")
    new_conn_id = alice.page.evaluate(CONN_ID)
    assert new_conn_id != old_conn_id
    gaps = alice.trace("gaps")
    assert [gap["channel"] for gap in gaps] == [alice.channel], gaps
    assert "reconnecting" in alice.trace("statuses")

    # Chat goes on, with presence rebuilt on the new server.
    expect(alice.page.locator("#users li[data-user=bob]")).to_be_visible()
    bob.say("after the restart")
    alice.expect_text("after the restart")
    assert_each_once(alice, ["before the restart", "after the restart"])
    alice.screenshot("restart-alice-gap-notice")


@pytest.mark.timeout(120)
def test_server_restart_on_redis_resumes_exactly_once(
    open_chat: OpenChat, redis_stack: RedisStack
) -> None:
    """With the Redis engine the log outlives the node: nothing is lost, nothing doubled."""
    server, proxy = redis_stack.channelstream, redis_stack.proxy
    alice = open_chat("alice", base_url=redis_stack.demo.url)
    bob = open_chat("bob", base_url=redis_stack.demo.url)
    bob.say("before the restart")
    # Both pages have seen it, so both remember an offset to resume from (a page that
    # had not yet received it when the proxy cut it off would have none: under load,
    # bob's own echo was still on its way, and his page came back empty).
    for chat in (alice, bob):
        chat.expect_text("before the restart")
    old_conn_ids = [chat.page.evaluate(CONN_ID) for chat in (alice, bob)]

    # The pages cannot reach channelstream while it restarts and while bob keeps
    # posting through his backend to the new process; they stay away until the
    # server has forgotten their connections (gc_conns_after = 2 s here).
    proxy.block()
    try:
        server.restart()
        missed = [f"posted during the restart {n}" for n in range(1, 4)]
        for text in missed:
            bob.say(text)
        wait_for_history(server, alice.channel, missed)
        wait_until_channel_empty(server, alice.channel)
        assert not any(text in alice.texts() for text in missed)
    finally:
        proxy.unblock()

    # So each page gets a new connection from its backend, and only the offsets it
    # remembered (sent as `resume`) can bring back what it missed.
    for chat, old in zip((alice, bob), old_conn_ids, strict=True):
        chat.expect_open(timeout=30_000)
        expect(chat.page.locator("#messages")).not_to_be_empty()
        assert chat.page.evaluate(CONN_ID) != old
    bob.say("after the restart")
    for chat in (alice, bob):
        chat.expect_text("after the restart")
        assert_each_once(chat, ["before the restart", *missed, "after the restart"])
        assert chat.trace("gaps") == []
        expect(chat.page.locator("#gap-notice")).to_be_hidden()
    assert "reconnecting" in alice.trace("statuses")
    alice.screenshot("restart-redis-alice-resumed")


@pytest.mark.timeout(120)
def test_page_that_saw_nothing_yet_resumes_from_where_it_joined(
    open_chat: OpenChat, redis_stack: RedisStack
) -> None:
    """A page that has received nothing on its channel has no offset of its own; it resumes
    from where the channel stood when it joined (the connect answer's channels_info), so
    what was published while it was away comes back after the server forgot its
    connection."""
    server, proxy = redis_stack.channelstream, redis_stack.proxy
    alice = open_chat("alice", base_url=redis_stack.demo.url)
    joined = alice.page.evaluate("() => window.chatDemo.connection.resumeState")
    assert joined is not None and alice.channel in joined["channels"], joined
    old_conn_id = alice.page.evaluate(CONN_ID)

    proxy.block()
    try:
        expect(alice.status).to_have_attribute("data-status", "reconnecting", timeout=10_000)
        missed = [f"posted while alice was away {n}" for n in range(1, 4)]
        for text in missed:
            answer = server.api(
                "POST",
                "/message",
                [{"channel": alice.channel, "user": "bob", "message": {"text": text}}],
            )
            answer.raise_for_status()
        wait_until_channel_empty(server, alice.channel)  # her connection is forgotten
        assert alice.texts() == []
    finally:
        proxy.unblock()

    alice.expect_open(timeout=30_000)
    assert alice.page.evaluate(CONN_ID) != old_conn_id
    for text in missed:
        alice.expect_text(text)
    assert_each_once(alice, missed)
    assert alice.trace("gaps") == []
    expect(alice.page.locator("#gap-notice")).to_be_hidden()


@pytest.mark.timeout(90)
def test_blocked_websocket_falls_back_to_long_poll(open_chat: OpenChat) -> None:
    alice = open_chat("alice", init_script=BLOCK_WEBSOCKET, wait_open=False)
    alice.expect_open(transport="longpoll", timeout=20_000)
    bob = open_chat("bob")
    expect(bob.status).to_have_attribute("data-transport", "websocket")
    expect(alice.page.locator("#users li[data-user=bob]")).to_be_visible()

    sent = [f"burst {n}" for n in range(1, 7)]
    for text in sent:
        bob.say(text)
    alice.say("reply over long-poll")
    for chat in (alice, bob):
        chat.expect_text("reply over long-poll")
        chat.expect_text("burst 6")
    # bob's burst and alice's reply interleave; each arrives exactly once, bob's in order.
    assert_each_once(alice, sent)
    assert_each_once(bob, sent)
    assert alice.texts().count("reply over long-poll") == 1
    assert set(alice.trace("transports")) == {"longpoll"}
    alice.screenshot("longpoll-alice")


@pytest.mark.timeout(60)
def test_client_surface_and_signer(browser: Browser, proxy: TcpProxy) -> None:
    """The 0.7 public surface is there, and the signer matches itsdangerous."""
    page = browser.new_page()
    try:
        page.goto(proxy.url + "/health")
        result = page.evaluate(
            """async (url) => {
                const module = await import(url);
                const connection = new module.ChannelStreamConnection();
                const signer = new module.ChannelStreamSigner('sekret');
                return {
                    members: Object.fromEntries([
                        'connectUrl', 'disconnectUrl', 'subscribeUrl', 'unsubscribeUrl',
                        'userStateUrl', 'messageUrl', 'messageEditUrl', 'messageDeleteUrl',
                        'websocketUrl', 'longPollUrl', 'channels', 'username', 'connectionId',
                        'noWebsocket', 'heartbeats', 'shouldReconnect', 'mutators',
                        'connect', 'disconnect', 'subscribe', 'unsubscribe', 'updateUserState',
                        'message', 'edit', 'delete', 'addMutator', 'listenMessageCallback',
                        'listenOpenedCallback', 'listenCloseCallback', 'listenErrorCallback',
                        'statusCallback', 'gapCallback',
                    ].map((name) => [name, typeof connection[name]])),
                    signature: signer.sign('channelstream', 1764377000),
                    fromIndex: typeof (await import(url.replace('channelstream.js', 'index.js')))
                        .ChannelStreamSigner,
                };
            }""",
            proxy.url + "/static/channelstream/channelstream.js",
        )
    finally:
        page.close()
    members = result["members"]
    assert {name for name, kind in members.items() if kind == "undefined"} == set()
    for name in ("connect", "disconnect", "subscribe", "message", "edit", "delete"):
        assert members[name] == "function"
    assert members["channels"] == "object" and members["mutators"] == "object"
    assert result["fromIndex"] == "function"

    signer = TimestampSigner("sekret")
    signer.get_timestamp = lambda: 1764377000  # type: ignore[method-assign]
    assert result["signature"] == signer.sign("channelstream").decode()
