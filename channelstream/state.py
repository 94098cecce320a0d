"""THE module-level state manager of this process.

Only the edges read it (views, ``realtime/``, ``tasks``, the runner); the model, hub, engines
and operations receive the state as an argument. ``install`` and ``reset`` exist for tests and
for ``includeme``.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channelstream.concurrency import Runtime
    from channelstream.engine.base import Engine
    from channelstream.hub import Hub
    from channelstream.settings import Settings
    from channelstream.tasks import Tasks


@dataclasses.dataclass
class State:
    settings: Settings
    engine: Engine
    hub: Hub
    # Injected so tests control time and ids.
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    tasks: Tasks | None = None
    started_at: float = dataclasses.field(default_factory=time.time)
    # Greenlets or threads (channelstream.concurrency); tests that build a state get greenlets.
    runtime: Runtime = dataclasses.field(default_factory=lambda: _cooperative())


def _cooperative() -> Runtime:
    from channelstream.concurrency import Cooperative

    return Cooperative()


_current: State | None = None


def get_state() -> State:
    if _current is None:
        raise RuntimeError("channelstream state is not installed; include 'channelstream' first")
    return _current


def install(state: State) -> State:
    global _current
    _current = state
    return state


def reset() -> None:
    global _current
    if _current is not None and _current.tasks is not None:
        _current.tasks.stop()
    if _current is not None:
        _current.engine.stop()
    _current = None
