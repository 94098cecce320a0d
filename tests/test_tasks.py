"""Background work: each loop one greenlet; a pass collects, heartbeats, and survives a
failing job."""

from __future__ import annotations

import logging

import gevent
import pytest

from channelstream import operations
from channelstream.delivery.attach import attach
from channelstream.state import State
from channelstream.tasks import HEARTBEAT_STEPS, Tasks
from tests.support.memory import Clock, RecordingTransport, connect, listen, make_state


def test_collecting_removes_disconnected_and_idle_connections_with_their_parted() -> None:
    state = make_state(gc_conns_after=15)
    configs = {"room": {"notify_presence": True}}
    watcher = listen(state, connect(state, "watcher", ["room"], channel_configs=configs))
    gone = connect(state, "leaver", ["room"])
    idle = connect(state, "sleeper", ["room"])
    tasks = Tasks(state)
    assert tasks.collect_connections() == 0
    operations.disconnect(state, gone)
    assert isinstance(state.clock, Clock)
    state.clock.advance(10)
    state.engine.touch_connection(gone, state.clock())  # activity does not save it
    assert tasks.collect_connections() == 1
    state.clock.advance(10)  # sleeper idle 20 s, watcher touched by its attach only
    state.engine.touch_connection(watcher_id := next(iter(state.hub.connections)), state.clock())
    assert tasks.collect_connections() == 1
    parted = [p["user"] for p in watcher.of_type("presence") if p["message"]["action"] == "parted"]
    assert parted == ["leaver", "sleeper"]
    assert {conn.conn_id for conn in state.engine.list_connections()} == {watcher_id}
    assert idle not in state.hub.connections
    assert tasks.collected == {"connections": 2, "users": 0, "channels": 0}


def test_the_heartbeat_touches_the_living_and_skips_the_dead() -> None:
    state = make_state()
    alive_id = connect(state, "alice", [])
    dead_id = connect(state, "bob", [])
    listen(state, alive_id)
    dead = listen(state, dead_id)
    dead.close(1011, "gone")
    assert isinstance(state.clock, Clock)
    state.clock.advance(60)
    assert Tasks(state).heartbeat() == 1
    engine = state.engine
    assert engine.get_connection(alive_id).last_active == state.clock()  # type: ignore[union-attr]
    assert engine.get_connection(dead_id).last_active < state.clock()  # type: ignore[union-attr]


class CountingTransport(RecordingTransport):
    def __init__(self) -> None:
        super().__init__()
        self.beats = 0

    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        self.beats += 1
        return super().heartbeat(now, ping_timeout)


def beating(state: State, conn_id: str) -> CountingTransport:
    transport = CountingTransport()
    assert attach(state, conn_id, transport, {}) is not None
    return transport


def test_a_heartbeat_pass_is_spread_over_its_steps_and_reaches_every_socket_once() -> None:
    state = make_state()
    transports = {}
    for n in range(45):
        conn_id = connect(state, f"user{n}", [])
        transports[conn_id] = beating(state, conn_id)
    tasks = Tasks(state)
    assert isinstance(state.clock, Clock)
    state.clock.advance(60)
    late_id = ""
    for step in range(HEARTBEAT_STEPS):
        before = sum(t.beats for t in transports.values())
        tasks.heartbeat_step()
        # No step takes more than its share: 45 sockets over the steps, 2 or 3 each (the
        # last one also takes the socket attached during the pass).
        last = step == HEARTBEAT_STEPS - 1
        assert sum(t.beats for t in transports.values()) - before <= (4 if last else 3)
        if step == 3:
            # Attached during the pass: still heartbeaten (and touched) within it.
            late_id = connect(state, "late", [])
            transports[late_id] = beating(state, late_id)
    assert {conn_id: t.beats for conn_id, t in transports.items()} == dict.fromkeys(transports, 1)
    now = state.clock()
    assert all(state.engine.get_connection(c).last_active == now for c in transports)  # type: ignore[union-attr]
    # The next pass starts over: each socket again once.
    for _ in range(HEARTBEAT_STEPS):
        tasks.heartbeat_step()
    assert {t.beats for t in transports.values()} == {2}
    assert late_id in state.hub.connections


def test_users_and_channels_are_forgotten_when_idle() -> None:
    state = make_state(gc_users_after=100, gc_channels_after=100)
    conn_id = connect(state, "alice", ["room"])
    operations.collect_connection(state, conn_id)
    assert isinstance(state.clock, Clock)
    state.clock.advance(101)
    tasks = Tasks(state)
    assert tasks.collect_users_and_channels() == (1, 1)
    assert tasks.collected == {"connections": 0, "users": 1, "channels": 1}
    assert state.engine.get_user("alice") is None and state.engine.channel_names() == []


def test_the_loops_run_at_their_interval_and_outlive_a_failing_pass(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = make_state(gc_conns_interval=0.01, gc_interval=0.01, heartbeat_interval=0.01)
    tasks = Tasks(state)
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return 0

    monkeypatch.setattr(tasks, "collect_connections", flaky)
    with caplog.at_level(logging.ERROR, logger="channelstream.tasks"):
        tasks.start()
        gevent.sleep(0.1)
        tasks.stop()
    assert len(calls) >= 4  # it went on after the failure
    assert "background task flaky failed" in caplog.text
    count = len(calls)
    gevent.sleep(0.05)
    assert len(calls) == count  # stopped
