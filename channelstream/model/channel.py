"""A channel's configuration and the information the API reports about a channel."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelConfig:
    # Defaults are 0.7.1's; backends rely on them.
    notify_presence: bool = False
    store_history: bool = False
    history_size: int = 10
    broadcast_presence_with_user_lists: bool = False
    notify_state: bool = False
    store_frames: bool = True

    def updated(self, changes: Mapping[str, Any] | None) -> ChannelConfig:
        """A copy with the given keys changed; unknown keys and None values are ignored."""
        if not changes:
            return self
        known = {
            field.name: changes[field.name]
            for field in dataclasses.fields(self)
            if changes.get(field.name) is not None
        }
        return dataclasses.replace(self, **known)

    def capped(self, max_history_size: int) -> ChannelConfig:
        """This config with history_size no larger than the server allows."""
        if self.history_size > max_history_size:
            return dataclasses.replace(self, history_size=max_history_size)
        return self

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies, about 9 us a call on every /connect.
        return {name: getattr(self, name) for name in CONFIG_KEYS}


CONFIG_KEYS = tuple(field.name for field in dataclasses.fields(ChannelConfig))
