"""What the use cases work on: the settings, the engine, this node's hub and its recovery,
and the injected clock and id generator.

There is no module-level state: each application owns one (``channelstream.runtime``), so
two applications in one process, or a test beside a server, never share or replace each
other's. The model, the hub, the engines and the operations receive it as an argument.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from channelstream.concurrency import Concurrency, Cooperative
from channelstream.delivery.hub import Hub
from channelstream.delivery.node import Node
from channelstream.delivery.recovery import Recovery

if TYPE_CHECKING:
    from channelstream.engine.base import Engine
    from channelstream.settings import Settings


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass
class State:
    settings: Settings
    engine: Engine
    hub: Hub
    # Injected so tests control time and ids.
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = new_uuid
    # When this node started, by the same clock (admin.json's uptime).
    started_at: float = dataclasses.field(init=False)
    # Greenlets or threads (channelstream.concurrency); a state built by hand (tests) gets
    # greenlets.
    concurrency: Concurrency = dataclasses.field(default_factory=Cooperative)
    # What the engine talks to, and the one place that decides catch-up and gaps.
    recovery: Recovery = dataclasses.field(init=False)
    node: Node = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.recovery = Recovery(self.engine, self.hub, self.clock)
        self.node = Node(self.hub, self.recovery, self.concurrency.guard)
