"""The memory engine's records: one stream's offsets and catch-up window, and a channel."""

from __future__ import annotations

import collections
import dataclasses
import uuid
from typing import Any

from channelstream.engine.base import Replay
from channelstream.model.channel import ChannelConfig
from channelstream.model.connection import Position
from channelstream.model.event import Event
from channelstream.model.few import Few


class StreamLog:
    """One stream's offsets and its catch-up window."""

    __slots__ = ("epoch", "events", "floor", "offset", "size")

    def __init__(self, size: int) -> None:
        # A fresh epoch per log: offsets from an earlier life of the stream mean nothing.
        self.epoch = uuid.uuid4().hex[:12]
        self.offset = 0
        # Every offset <= floor has left the window; a resume from below it has a gap.
        self.floor = 0
        # The window is made with the first event kept: a deque costs 760 bytes however
        # empty, and most users' direct streams never carry a message.
        self.size = size
        self.events: collections.deque[Event] | tuple[Event, ...] = ()

    def stamp(self, event: Event) -> None:
        self.offset += 1
        event.stamp(self.epoch, self.offset)

    def position(self) -> Position:
        return (self.epoch, self.offset)

    def keep(self, event: Event) -> None:
        events = self.events
        if not isinstance(events, collections.deque):
            events = self.events = collections.deque(maxlen=self.size)
        if events.maxlen and len(events) == events.maxlen:
            self.floor = events[0].offset
        events.append(event)

    def after(self, offset: int) -> list[Event]:
        found = []
        for event in reversed(self.events):
            if event.offset <= offset:
                break
            found.append(event)
        found.reverse()
        return found

    def replay(self, after: Position | None) -> Replay:
        """Kept events after `after`, or all of them with the kind of gap when it is not
        exact (another epoch, or an offset that left the window)."""
        position = self.position()
        if after is None:
            return Replay(events=[], position=position)
        epoch, offset = after
        if epoch != self.epoch:
            return Replay(events=list(self.events), position=position, gap="epoch")
        if offset < self.floor:
            return Replay(events=list(self.events), position=position, gap="window")
        return Replay(events=self.after(offset), position=position)

    def replace(self, uuid_: str, change: Any) -> bool:
        events = self.events
        if not isinstance(events, collections.deque):
            return False  # nothing kept yet
        for index, event in enumerate(events):
            if event.uuid == uuid_ and event.type == "message":
                replacement = change(event)
                if replacement is None:
                    del events[index]
                else:
                    events[index] = replacement
                return True
        return False


@dataclasses.dataclass(slots=True)
class ChannelRecord:
    name: str
    config: ChannelConfig
    log: StreamLog
    created: float
    last_active: float
    uuid: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # username -> conn_ids: presence is per user, connections are counted per user.
    members: dict[str, Few] = dataclasses.field(default_factory=dict)

    def add_history(self, payload: dict[str, Any]) -> None:
        """Keep a published message's payload, at most ``history_size`` of them."""
        history, size = self.history, self.config.history_size
        history.append(payload)
        del history[: max(0, len(history) - size)]

    def edit_history(self, uuid_: str, edits: dict[str, Any]) -> bool:
        found = False
        for item in self.history:
            if item.get("uuid") == uuid_:
                item.update(edits)
                found = True
        return found

    def delete_history(self, uuid_: str) -> bool:
        before = len(self.history)
        self.history[:] = [item for item in self.history if item.get("uuid") != uuid_]
        return len(self.history) != before
