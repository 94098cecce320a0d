"""The last minutes of this node, kept for the admin panel's charts: sampled once a second
into fixed-size rings, so that a dashboard opened now shows the minutes before it at once.

Per sample: this node's connections (by transport), the events handed to its hub per second
(``Hub.published``) and the messages it delivered per second (``Hub.deliveries``), and each
channel's events per second, read from where the channel's stream stands (its offset, the
same on every node: a channel's rate is the whole cluster's). Sampling reads counters the
publish path keeps anyway; it adds nothing to it.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelstream.cooperate import slices

if TYPE_CHECKING:
    from channelstream.delivery.hub import Hub
    from channelstream.engine.base import Engine
    from channelstream.model.connection import Position

log = logging.getLogger(__name__)

# Seconds between two samples: the panel polls once a second too.
SAMPLE_INTERVAL = 1.0
# Channels whose rate is kept: each costs a ring of minutes x 60 numbers (8 bytes each), and
# its position is read every second (one engine call per slice of them).
MAX_TRENDED_CHANNELS = 1000
POSITIONS_PER_CALL = 250
# The node-wide series, in the order the summary lists them.
SERIES = ("connections", "websocket", "longpoll", "messages", "deliveries")


class Ring:
    """The last `size` numbers pushed, oldest first, in a preallocated array written in a
    circle: its memory never grows, whatever the uptime. The array is made with the first
    number that is not 0: a channel that carries nothing (most of a node's idle channels,
    one per few sockets) holds no 8 bytes per sample for a series of zeros."""

    __slots__ = ("_count", "_next", "_size", "_values")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one number")
        self._size = size
        self._values: array[float] | None = None
        self._next = 0
        self._count = 0

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._count

    def push(self, value: float) -> None:
        values = self._values
        if values is None and value:
            values = self._values = array("d", bytes(8 * self._size))
        if values is not None:
            values[self._next] = value
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)

    def last(self) -> float:
        values = self._values
        return values[self._next - 1] if self._count and values is not None else 0.0

    def values(self) -> list[float]:
        values = self._values
        if values is None:
            return [0.0] * self._count
        if self._count < self._size:
            return values[: self._count].tolist()
        return (values[self._next :] + values[: self._next]).tolist()


def rate(now: int, before: int, seconds: float) -> float:
    """Per second, never negative (a counter that starts again shows a pause, not a dip)."""
    if seconds <= 0 or now <= before:
        return 0.0
    return (now - before) / seconds


def rounded(values: list[float]) -> list[float]:
    # Two decimals: the JSON stays short, and a chart cannot show finer steps anyway.
    return [round(value, 2) for value in values]


class Trends:
    """Samples the hub and the engine on each `sample()`; answers the series."""

    def __init__(self, hub: Hub, engine: Engine, clock: Callable[[], float], minutes: int) -> None:
        self.hub = hub
        self.engine = engine
        self.clock = clock
        self.minutes = minutes
        self.interval = SAMPLE_INTERVAL
        self.size = minutes * 60
        self.series = {name: Ring(self.size) for name in SERIES}
        # Each channel's events per second, and where its stream stood at the last sample.
        self.channels: dict[str, Ring] = {}
        self._positions: dict[str, Position] = {}
        # The previous sample's clock and counters (None before the first one).
        self._last: tuple[float, int, int] | None = None
        self._channels_sampled = False
        self._channels_failing = False
        self.last_sample: float | None = None

    # -- sampling --------------------------------------------------------------------
    def hub_connections(self) -> dict[str, int]:
        """This node's connections by transport, now."""
        connections = self.hub.connections
        longpoll = sum(1 for local in connections.values() if local.longpoll)
        return {"websocket": len(connections) - longpoll, "longpoll": longpoll}

    def sample(self) -> None:
        now = self.clock()
        hub = self.hub
        published, deliveries = hub.published, hub.deliveries
        counts = self.hub_connections()
        longpoll = counts["longpoll"]
        total = counts["websocket"] + longpoll
        previous, self._last = self._last, (now, published, deliveries)
        seconds = now - previous[0] if previous else 0.0
        self.series["connections"].push(total)
        self.series["websocket"].push(total - longpoll)
        self.series["longpoll"].push(longpoll)
        self.series["messages"].push(rate(published, previous[1], seconds) if previous else 0)
        self.series["deliveries"].push(rate(deliveries, previous[2], seconds) if previous else 0)
        self.last_sample = now
        try:
            self._sample_channels(seconds)
        except Exception as exc:  # the engine's errors (Redis away): the node's series go on
            if not self._channels_failing:
                log.warning("channel rates not sampled, the engine failed: %s", exc)
            self._channels_failing = True
        else:
            self._channels_failing = False

    def _sample_channels(self, seconds: float) -> None:
        names = self.engine.channel_names()[:MAX_TRENDED_CHANNELS]
        positions: dict[str, Position] = {}
        for part in slices(names, POSITIONS_PER_CALL):
            positions.update(self.engine.channel_positions(part))
        for name in [name for name in self.channels if name not in positions]:
            del self.channels[name]  # collected (or past the cap): its trend goes with it
            self._positions.pop(name, None)
        for name, (epoch, offset) in positions.items():
            before = self._positions.get(name)
            if before is not None and before[0] == epoch:
                events = offset - before[1]
            elif self._channels_sampled:
                # New since the last sample (or its stream started again): all of it is new.
                events = offset
            else:
                events = 0  # the first sample only sets where each stream stands
            ring = self.channels.get(name)
            if ring is None:
                ring = self.channels[name] = Ring(self.size)
            ring.push(events / seconds if seconds > 0 and events > 0 else 0.0)
        self._positions = positions
        self._channels_sampled = True

    # -- answers ---------------------------------------------------------------------
    def channel_rate(self, name: str) -> float:
        ring = self.channels.get(name)
        return round(ring.last(), 2) if ring is not None else 0.0

    def channel_series(self, name: str) -> list[float]:
        ring = self.channels.get(name)
        return rounded(ring.values()) if ring is not None else []

    def summary(self) -> dict[str, Any]:
        """The node-wide series, oldest first, the newest sampled at `end` (the node's clock,
        seconds): every `interval` seconds, at most `minutes` of them."""
        found: dict[str, Any] = {
            "interval": SAMPLE_INTERVAL,
            "minutes": self.minutes,
            "end": self.last_sample,
        }
        for name, ring in self.series.items():
            values = ring.values()
            found[name] = [int(v) for v in values] if name in SERIES[:3] else rounded(values)
        return found
