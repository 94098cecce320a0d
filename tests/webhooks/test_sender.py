"""The webhook sender against the memory engine's outbox, with a scripted backend and a
clock the test moves: batches, retries with the same ids, backoff, giving up, the cap, the
lease, and an outbox that cannot be reached."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from channelstream.state import State
from channelstream.webhooks import sender as sending
from channelstream.webhooks.post import Answer
from channelstream.webhooks.sender import WebhookSender
from tests.support.memory import connect, make_state

OK = Answer(200, "")
DOWN = Answer(503, "maintenance")


class Backend:
    """Answers from a script (then 200), and keeps every request's events."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, body: bytes, headers: dict[str, str]) -> Answer:
        self.requests.append(json.loads(body)["events"])
        self.headers.append(headers)
        return self.answers.pop(0) if self.answers else OK

    def ids(self, request: int) -> list[str]:
        return [event["id"] for event in self.requests[request]]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_sender(
    backend: Backend, clock: Clock, state: State | None = None, **settings: Any
) -> WebhookSender:
    if state is None:
        state = make_state(
            webhook_url="http://127.0.0.1:9/hook",
            webhook_secret="webhook-key-0123456789",
            webhook_retry_for=settings.pop("retry_for", 60),
            **settings,
        )
        state.engine.keep_transitions(
            frozenset(state.settings.webhook_events), state.settings.webhook_max_pending
        )
    return WebhookSender(state, post=backend, monotonic=clock)


def test_a_batch_goes_once_and_leaves_the_outbox() -> None:
    backend, clock = Backend(), Clock()
    sender = make_sender(backend, clock)
    connect(sender.state, "alice", ["lobby"])
    sender.tick()
    assert [(e["name"], e.get("channel"), e.get("user")) for e in backend.requests[0]] == [
        ("user_online", None, "alice"),
        ("channel_occupied", "lobby", None),
        ("user_joined", "lobby", "alice"),
    ]
    assert backend.headers[0]["X-Channelstream-Signature"].startswith("t=")
    sender.tick()
    assert len(backend.requests) == 1  # delivered: nothing is sent again
    state = sender.state.engine.outbox_state()
    assert state.pending == 0 and state.report["sent"] == "3"
    assert state.report["sender"] == sender.holder and sender.holding


def test_a_failed_batch_is_sent_again_with_the_same_ids_after_a_backoff() -> None:
    backend, clock = Backend(DOWN, Answer(None, "TimeoutError: timed out")), Clock()
    sender = make_sender(backend, clock)
    connect(sender.state, "alice", ["lobby"])
    sender.tick()
    connect(sender.state, "bob", [])  # arrives while the first batch fails
    sender.tick()
    assert len(backend.requests) == 1  # waiting out the backoff
    clock.now += sending.BACKOFF_FIRST
    sender.tick()
    clock.now += 2 * sending.BACKOFF_FIRST - 0.01
    sender.tick()
    assert len(backend.requests) == 2  # the second backoff is twice as long
    clock.now += 0.01
    sender.tick()
    first = backend.ids(0)
    assert backend.ids(1) == first and backend.ids(2) == first  # the same batch, no more
    sender.tick()  # then what came meanwhile, in order
    assert [e["user"] for e in backend.requests[3]] == ["bob"]
    report = sender.state.engine.outbox_state().report
    assert report["failures"] == "2" and report["sent"] == "4"
    assert sender.counts == {"sent": 4, "abandoned": 0, "failures": 2}  # this node's
    assert report["last_error"] == "TimeoutError: timed out" and report["failing_since_ms"] == ""


def test_a_batch_failing_for_retry_for_is_given_up_and_the_next_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, clock = Backend(*[DOWN] * 20), Clock()
    sender = make_sender(backend, clock, retry_for=10)
    connect(sender.state, "alice", [])
    sender.tick()
    connect(sender.state, "bob", [])
    with caplog.at_level(logging.ERROR, "channelstream.webhooks.sender"):
        while clock.now < 111:
            clock.now += 0.5
            sender.tick()
    assert "gave up 1 event" in caplog.text and "6 attempts over 10 s" in caplog.text
    sent = [[event["user"] for event in request] for request in backend.requests]
    assert sent[:6] == [["alice"]] * 6 and set(map(tuple, sent[6:])) == {("bob",)}
    backend.answers.clear()
    clock.now += 60
    sender.tick()
    assert [e["user"] for e in backend.requests[-1]] == ["bob"]
    state = sender.state.engine.outbox_state()
    assert state.pending == 0 and state.report["abandoned"] == "1"


def test_events_the_cap_dropped_leave_the_batch_being_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, clock = Backend(DOWN), Clock()
    sender = make_sender(backend, clock, webhook_max_pending=4)
    for name in ("u1", "u2"):
        connect(sender.state, name, [])
    sender.tick()
    assert [e["user"] for e in backend.requests[0]] == ["u1", "u2"]
    for name in ("u3", "u4", "u5"):
        connect(sender.state, name, [])  # u1 is dropped: the oldest beyond the cap
    clock.now += sending.BACKOFF_FIRST
    with caplog.at_level(logging.WARNING, "channelstream.webhooks.sender"):
        sender.tick()
    assert "1 oldest pending events dropped (webhook_max_pending = 4)" in caplog.text
    assert [e["user"] for e in backend.requests[1]] == ["u2"]  # the same batch, minus u1
    sender.tick()
    assert [e["user"] for e in backend.requests[2]] == ["u3", "u4", "u5"]
    assert sender.state.engine.outbox_state().dropped == 1


def test_while_another_sender_holds_the_lease_this_one_stands_by() -> None:
    backend, clock = Backend(), Clock()
    first = make_sender(backend, clock)
    other_backend = Backend()
    second = make_sender(other_backend, clock, state=first.state)
    connect(first.state, "alice", [])
    first.tick()
    connect(first.state, "bob", [])
    second.tick()
    assert other_backend.requests == [] and not second.holding
    first.stop()  # lets go of the lease: the other takes over at its next look
    clock.now += sending.STANDBY
    second.tick()
    assert [e["user"] for e in other_backend.requests[0]] == ["bob"] and second.holding


def test_an_unreachable_outbox_is_said_once_and_sending_resumes(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, clock = Backend(), Clock()
    sender = make_sender(backend, clock)
    connect(sender.state, "alice", [])
    engine = sender.state.engine

    def away(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis is away")

    with caplog.at_level(logging.INFO, "channelstream.webhooks.sender"):
        with monkeypatch.context() as patched:
            patched.setattr(engine, "take_transitions", away)
            for _ in range(3):
                sender.tick()
        assert caplog.text.count("cannot reach the outbox") == 1 and backend.requests == []
        sender.tick()
    assert "answers again" in caplog.text and len(backend.requests) == 1
