"""Background work with an explicit start and stop: garbage collection, heartbeats and the
admin's trend samples.

Each loop is one greenlet (or, in a threaded host, one thread) for the whole process, not one
per connection (channelstream.concurrency); a failing pass is logged with its traceback and
the loop goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from channelstream import operations

if TYPE_CHECKING:
    from channelstream.concurrency import Job
    from channelstream.state import State
    from channelstream.trends import Trends

log = logging.getLogger(__name__)

COLLECTED = ("connections", "users", "channels")


class Tasks:
    def __init__(self, state: State, trends: Trends | None = None) -> None:
        self.state = state
        self.trends = trends
        self._jobs: list[Job] = []
        # What collection removed, by kind, since start (channelstream.metrics reads it).
        self.collected: dict[str, int] = dict.fromkeys(COLLECTED, 0)

    def start(self) -> None:
        settings = self.state.settings
        self._every(settings.gc_conns_interval, self.collect_connections)
        self._every(settings.gc_interval, self.collect_users_and_channels)
        self._every(settings.heartbeat_interval, self.heartbeat)
        if self.trends is not None:
            self._every(self.trends.interval, self.trends.sample)

    def stop(self) -> None:
        for job in self._jobs:
            job.stop()
        self._jobs.clear()

    def _every(self, interval: float, job: Callable[[], object]) -> None:
        self._jobs.append(self.state.concurrency.every(interval, job))

    # -- the jobs --------------------------------------------------------------------
    def collect_connections(self) -> int:
        gone = operations.collect_idle_connections(self.state)
        self.collected["connections"] += gone
        return gone

    def collect_users_and_channels(self) -> tuple[int, int]:
        users, channels = operations.collect_idle_users_and_channels(self.state)
        self.collected["users"] += users
        self.collected["channels"] += channels
        return users, channels

    def heartbeat(self) -> int:
        """Heartbeat every attached transport; live ones count as activity."""
        state = self.state
        now = state.clock()
        alive = [
            conn_id
            for conn_id, local in list(state.hub.connections.items())
            if local.transport.heartbeat(now, state.settings.ping_timeout)
        ]
        state.engine.touch_connections(alive, now)
        return len(alive)
