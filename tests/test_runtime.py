"""The runtime starts and stops the webhook sender with the rest of the background work;
in this (unpatched) process that is a thread, taking channelstream's lock only around its
calls into the engine, never while it waits on the backend."""

from __future__ import annotations

import time

import pytest

from channelstream.concurrency import Threaded
from tests.support.waiting import wait_until
from tests.support.webapp import make
from tests.support.webhook_receiver import receiving

KEY = "runtime-webhook-key-0123456789"


@pytest.mark.timeout(30)
def test_the_sender_runs_in_a_thread_and_stops_with_the_runtime() -> None:
    with receiving(KEY) as receiver:
        receiver.delay = 0.5  # a slow backend holds only the sender
        app = make(
            **{"channelstream.webhook_url": receiver.url, "channelstream.webhook_secret": KEY}
        )
        try:
            state = app.runtime.state
            assert isinstance(state.concurrency, Threaded)
            sender = app.runtime.webhooks
            assert sender is not None
            app.api("POST", "/connect", {"username": "alice", "channels": ["lobby"]})
            wait_until(lambda: receiver.arrived, timeout=10, what="a request in flight")
            # While the sender waits on the backend, the lock is free for every request.
            started = time.monotonic()
            app.api("POST", "/connect", {"username": "bob", "channels": []})
            assert time.monotonic() - started < 0.3
            assert receiver.wait_for(4)[:3] == ["user_online", "channel_occupied", "user_joined"]
            assert all(request.verified for request in receiver.requests)
            wait_until(lambda: sender.holding, what="the lease")
        finally:
            app.runtime.stop()
        assert app.runtime.webhooks is None
        # Let go of: another sender may take the lease at once.
        assert state.engine.take_transitions("another", lease=5, limit=0) is not None


def test_without_a_webhook_url_nothing_is_recorded_or_sent() -> None:
    app = make()
    try:
        assert app.runtime.webhooks is None
        app.api("POST", "/connect", {"username": "alice", "channels": ["lobby"]})
        assert app.runtime.state.engine.outbox_state().pending == 0
    finally:
        app.runtime.stop()
