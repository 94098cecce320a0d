"""This node as the engine sees it: the one implementation of ``EngineEvents``.

Like Centrifuge's node behind its broker event handler, it routes what the engine reports to
the hub (which only routes bytes, never doing I/O) and to recovery (which reads the engine
back when streams may have holes). Events go straight to the hub's method: the publish path
pays no extra call here.
"""

from __future__ import annotations

from collections.abc import Callable

from channelstream.delivery.hub import Hub
from channelstream.delivery.recovery import Recovery
from channelstream.engine.base import Control, Subscribed
from channelstream.model.event import Event


class Node:
    on_event: Callable[[Event], None]
    wants: Callable[[str], bool]

    def __init__(self, hub: Hub, recovery: Recovery) -> None:
        self.hub = hub
        self.recovery = recovery
        self.on_event = hub.deliver_event
        self.wants = hub.listens

    def on_control(self, envelope: Control) -> None:
        self.hub.apply(envelope)
        if isinstance(envelope, Subscribed):
            self.recovery.after_subscribed(envelope)

    def on_resubscribed(self) -> None:
        self.recovery.resync()
