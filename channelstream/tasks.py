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

# A heartbeat pass is spread over heartbeat_interval in this many steps. Every socket at
# once stalls the event loop for the whole pass, and their pongs come back together: a
# message published meanwhile waited for both (the tail of fanout_10's latency).
HEARTBEAT_STEPS = 20


class Tasks:
    def __init__(self, state: State, trends: Trends | None = None) -> None:
        self.state = state
        self.trends = trends
        self._jobs: list[Job] = []
        # What collection removed, by kind, since start (channelstream.metrics reads it).
        self.collected: dict[str, int] = dict.fromkeys(COLLECTED, 0)
        # The heartbeat pass under way: the conn_ids attached when it began, and its step.
        self._beat_order: list[str] = []
        self._beat_step = 0

    def start(self) -> None:
        settings = self.state.settings
        self._every(settings.gc_conns_interval, self.collect_connections)
        self._every(settings.gc_interval, self.collect_users_and_channels)
        self._every(settings.heartbeat_interval / HEARTBEAT_STEPS, self.heartbeat_step)
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
        """Heartbeat every attached transport at once; live ones count as activity."""
        return self._heartbeat(list(self.state.hub.connections))

    def heartbeat_step(self) -> int:
        """One of the HEARTBEAT_STEPS steps of a pass: its share of the connections attached
        when the pass began; the last step also takes those attached since. Each socket
        still gets a heartbeat (and its connection a touch) once per pass."""
        connections = self.state.hub.connections
        step = self._beat_step
        if step == 0:
            self._beat_order = list(connections)
        order = self._beat_order
        count = len(order)
        share = order[step * count // HEARTBEAT_STEPS : (step + 1) * count // HEARTBEAT_STEPS]
        self._beat_step = (step + 1) % HEARTBEAT_STEPS
        if self._beat_step == 0:
            known = set(order)
            share += [conn_id for conn_id in connections if conn_id not in known]
            self._beat_order = []
        return self._heartbeat(share)

    def _heartbeat(self, conn_ids: list[str]) -> int:
        state = self.state
        now = state.clock()
        connections = state.hub.connections
        alive = []
        for conn_id in conn_ids:
            # Looked up again: an earlier heartbeat may have closed (and detached) it.
            local = connections.get(conn_id)
            if local is not None and local.transport.heartbeat(now, state.settings.ping_timeout):
                alive.append(conn_id)
        state.engine.touch_connections(alive, now)
        return len(alive)
