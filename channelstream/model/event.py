"""A published event: the payload clients receive, kept apart from its delivery rules.

The payload is encoded to JSON once per publish (``body``); the realtime layer frames each
batch of events once for WebSocket clients and keeps that frame on the batch (not on the
event: events stay in catch-up windows, frames need not). Every recipient gets the same bytes.
"""

from __future__ import annotations

from typing import Any

from channelstream import jsonenc

NOBODY: frozenset[str] = frozenset()


class Event:
    """One entry of a stream: a channel's log or a user's direct stream."""

    __slots__ = (
        "_body",
        "_replayed",
        "channel",
        "direct_to",
        "epoch",
        "exclude_users",
        "offset",
        "payload",
        "pm_users",
    )

    def __init__(
        self,
        payload: dict[str, Any],
        *,
        channel: str | None,
        direct_to: str | None = None,
        pm_users: frozenset[str] = NOBODY,
        exclude_users: frozenset[str] = NOBODY,
        body: bytes | None = None,
    ) -> None:
        self.payload = payload
        self.channel = channel
        # For a direct message: the user whose direct stream holds this copy.
        self.direct_to = direct_to
        self.offset: int = payload.get("offset", 0)
        self.epoch: str = payload.get("epoch", "")
        # Delivery rules: never part of the payload.
        self.pm_users = pm_users
        self.exclude_users = exclude_users
        self._body = body
        self._replayed: bytes | None = None

    def stamp(self, epoch: str, offset: int) -> None:
        """Take the stream's place: only before the payload is encoded or shared."""
        self.payload["offset"] = self.offset = offset
        self.payload["epoch"] = self.epoch = epoch
        self._body = self._replayed = None

    @property
    def type(self) -> str:
        return str(self.payload.get("type"))

    @property
    def is_message(self) -> bool:
        """A published message (not presence, a state change, an edit or a delete)."""
        return self.payload.get("type") == "message"

    @property
    def uuid(self) -> str | None:
        return self.payload.get("uuid")

    @property
    def body(self) -> bytes:
        """The live JSON encoding of the payload, made once."""
        return self._body if self._body is not None else self.encode()

    def encode(self) -> bytes:
        """Make ``body`` now (a stamped event's payload no longer changes)."""
        if self._body is None:
            self._body = jsonenc.dumps_kept(self.payload)
        return self._body

    def replayed(self) -> bytes:
        """The encoding sent on catch-up: the same payload with ``catchup: true``, made once
        (long-poll clients under load catch up on every poll)."""
        if self._replayed is None:
            self._replayed = jsonenc.dumps_kept({**self.payload, "catchup": True})
        return self._replayed

    def reaches(self, username: str) -> bool:
        """Whether the delivery rules let this event reach the user (exclusion wins)."""
        if username in self.exclude_users:
            return False
        return not self.pm_users or username in self.pm_users

    def with_payload(self, payload: dict[str, Any]) -> Event:
        return Event(
            payload,
            channel=self.channel,
            direct_to=self.direct_to,
            pm_users=self.pm_users,
            exclude_users=self.exclude_users,
        )

    def __repr__(self) -> str:
        return f"<Event {self.type} {self.channel or self.direct_to}#{self.offset}>"


class EventBatch:
    """Events that go out together in one frame (0.7 frames are JSON arrays).

    The hub gathers a channel's events between two flushes into one batch; every connection
    that gets all of them shares the batch, and with it one encoded frame.
    """

    __slots__ = ("events", "messages", "plain", "ws_frame")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        # No delivery rules in the batch: every member of the channel gets every event.
        if len(events) == 1:
            first = events[0]
            self.plain = not first.pm_users and not first.exclude_users
            # is_message, read without a property call: once per channel per flush.
            self.messages = 1 if first.payload.get("type") == "message" else 0
        else:
            self.plain = all(not e.pm_users and not e.exclude_users for e in events)
            self.messages = sum(1 for e in events if e.is_message)
        # Filled by realtime.frames on first use.
        self.ws_frame: bytes | None = None
