"""This node as the engine sees it: the one implementation of ``EngineEvents``.

Like Centrifuge's node behind its broker event handler, it routes what the engine reports to
the hub (which only routes bytes, never doing I/O) and to recovery (which reads the engine
back when streams may have holes). Events go straight to the hub's method: the publish path
pays no extra call here.

In a threaded host (``channelstream.concurrency``) an engine's own thread (the Redis bus)
must not touch the hub while a view does: there, everything the engine hands in runs under
the state's guard. Under gevent the guard is a no-op and is left out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from channelstream.delivery.hub import Hub
from channelstream.delivery.recovery import Recovery
from channelstream.engine.base import Control, Subscribed
from channelstream.model.event import Event

Guard = contextlib.AbstractContextManager[Any]
Argument = TypeVar("Argument")


class Node:
    on_event: Callable[[Event], None]
    wants: Callable[[str], bool]

    def __init__(self, hub: Hub, recovery: Recovery, guard: Guard | None = None) -> None:
        self.hub = hub
        self.recovery = recovery
        self.guard: Guard = guard if guard is not None else contextlib.nullcontext()
        self.on_event = guarded(hub.deliver_event, guard)
        self.wants = hub.listens

    def on_control(self, envelope: Control) -> None:
        with self.guard:
            self.hub.apply(envelope)
            if isinstance(envelope, Subscribed):
                self.recovery.after_subscribed(envelope)

    def on_resubscribed(self) -> None:
        with self.guard:
            self.recovery.resync()


def guarded(handle: Callable[[Argument], None], guard: Guard | None) -> Callable[[Argument], None]:
    """`handle` itself without a guard; else a function that holds it around the call."""
    if guard is None or isinstance(guard, contextlib.nullcontext):
        return handle

    def under_guard(argument: Argument) -> None:
        with guard:
            handle(argument)

    return under_guard
