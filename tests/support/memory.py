"""An in-process state with the memory engine, a controllable clock and recording transports."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from channelstream import jsonenc, operations
from channelstream.delivery.attach import attach
from channelstream.delivery.hub import Hub
from channelstream.engine.memory import MemoryEngine
from channelstream.model.event import EventBatch
from channelstream.settings import parse_settings
from channelstream.state import State


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_state(**settings: Any) -> State:
    parsed = parse_settings(
        {
            "channelstream.environment": "development",
            **{f"channelstream.{key}": str(value) for key, value in settings.items()},
        },
        environ={},
    )
    hub = Hub()
    engine = MemoryEngine(parsed)
    counter = itertools.count(1)
    state = State(
        settings=parsed,
        engine=engine,
        hub=hub,
        clock=Clock(),
        new_id=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    engine.start(state.node)
    return state


class RecordingTransport:
    """Collects what the hub sends, decoded, in order."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send_batch(self, batch: EventBatch) -> None:
        self.received.extend(jsonenc.loads(event.body) for event in batch.events)

    def send_bodies(self, bodies: list[bytes]) -> None:
        self.received.extend(jsonenc.loads(body) for body in bodies)

    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        return self.closed is None

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [item for item in self.received if item.get("type") == type_]


def connect(
    state: State,
    username: str,
    channels: list[str],
    *,
    conn_id: str | None = None,
    channel_configs: dict[str, dict[str, Any]] | None = None,
    fresh_user_state: dict[str, Any] | None = None,
    user_state: dict[str, Any] | None = None,
    state_public_keys: Sequence[str] | None = (),
) -> str:
    """`operations.connect` with defaults for what a test leaves out; answer the conn_id."""
    conn, _ = operations.connect(
        state,
        username=username,
        conn_id=conn_id,
        channels=channels,
        channel_configs=channel_configs or {},
        fresh_user_state=fresh_user_state or {},
        user_state=user_state or {},
        state_public_keys=None if state_public_keys is None else list(state_public_keys),
    )
    return conn.conn_id


def listen(state: State, conn_id: str, resume: Any = None) -> RecordingTransport:
    """Attach a recording transport to the connection (as a socket would)."""
    transport = RecordingTransport()
    assert attach(state, conn_id, transport, resume or {}) is not None
    return transport
