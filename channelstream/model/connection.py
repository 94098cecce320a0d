"""A connection: one listening client of one user, known by its conn_id."""

from __future__ import annotations

import dataclasses

from channelstream.model.few import Few

# (epoch, offset): where a stream was last read by a connection.
Position = tuple[str, int]


@dataclasses.dataclass(slots=True)
class Connection:
    conn_id: str
    username: str
    # A set in every copy; the memory engine's own records keep a tuple while few.
    channels: Few = ()
    last_active: float = 0.0
    # Set by /disconnect; the next garbage-collection pass removes the connection.
    disconnected: bool = False
    # What the connection was last sent, per channel and for the user's direct stream
    # (key None); catch-up without a client-side `resume` starts after these.
    positions: dict[str | None, Position] = dataclasses.field(default_factory=dict)

    def copy(self) -> Connection:
        return Connection(
            self.conn_id,
            self.username,
            set(self.channels),
            self.last_active,
            self.disconnected,
            dict(self.positions),
        )
