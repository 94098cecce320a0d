"""The Redis engine's wire format: what is kept in Redis and what travels on the bus.

A kept entry (in a stream's window) is the event's delivery rules as JSON, a line feed, then
the payload exactly as clients receive it (offset and epoch included), so a replay needs no
re-encoding. On the bus an entry is prefixed with ``E``; a membership change is ``C`` and a
small JSON object. Positions are stored as ``[epoch, offset]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from channelstream import jsonenc
from channelstream.engine.base import (
    Control,
    Disconnected,
    Envelope,
    Stream,
    Subscribed,
    Unsubscribed,
)
from channelstream.model.connection import Position
from channelstream.model.event import Event


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- events ------------------------------------------------------------------------------
def rules(event: Event) -> bytes:
    """The delivery rules, and for a presence event who joined or parted ("pr"), so that
    every node can follow presence without decoding payloads (see ``lifeline``)."""
    decoded: dict[str, Any] = {
        "c": event.channel,
        "d": event.direct_to,
        "pm": sorted(event.pm_users),
        "ex": sorted(event.exclude_users),
    }
    if event.type == "presence":
        payload = event.payload
        decoded["pr"] = [payload.get("user"), (payload.get("message") or {}).get("action")]
    return jsonenc.dumps(decoded)


def encode_entry(event: Event) -> bytes:
    return rules(event) + b"\n" + jsonenc.dumps(event.payload)


def decode_entry(entry: bytes) -> Event:
    """An entry of a window (or of the bus, without its leading kind byte): rules LF payload."""
    rules_text, _, body = entry.partition(b"\n")
    return event_from(jsonenc.loads(rules_text), body)


def event_from(decoded_rules: dict[str, Any], body: bytes) -> Event:
    return Event(
        jsonenc.loads(body),
        channel=decoded_rules["c"],
        direct_to=decoded_rules["d"],
        pm_users=frozenset(decoded_rules["pm"]),
        exclude_users=frozenset(decoded_rules["ex"]),
        body=body,
    )


# -- the bus -----------------------------------------------------------------------------
def encode_envelope(envelope: Envelope) -> bytes:
    if isinstance(envelope, Event):
        return b"E" + encode_entry(envelope)
    return b"C" + jsonenc.dumps(_control_body(envelope))


def _control_body(envelope: Control) -> dict[str, Any]:
    if isinstance(envelope, Subscribed):
        return {
            "t": "sub",
            "c": envelope.conn_id,
            "p": {name: list(pos) for name, pos in envelope.positions.items()},
        }
    if isinstance(envelope, Unsubscribed):
        return {"t": "unsub", "c": envelope.conn_id, "ch": list(envelope.channels)}
    return {"t": "disc", "c": envelope.conn_id}


def decode_envelope(data: bytes) -> Envelope:
    if data[:1] == b"E":
        return decode_entry(data[1:])
    body = jsonenc.loads(data[1:])
    kind = body["t"]
    if kind == "sub":
        return Subscribed(body["c"], {name: (pos[0], pos[1]) for name, pos in body["p"].items()})
    if kind == "unsub":
        return Unsubscribed(body["c"], tuple(body["ch"]))
    return Disconnected(body["c"])


# -- positions and streams ---------------------------------------------------------------
def position_text(position: Position) -> bytes:
    return jsonenc.dumps([position[0], position[1]])


def position_of(value: bytes) -> Position:
    epoch, offset = jsonenc.loads(value)
    return (str(epoch), int(offset))


def stream_args(stream: Stream) -> tuple[str, str]:
    """A stream as the scripts name it: ("c", channel) or ("d", username)."""
    kind, name = stream
    return ("c" if kind == "channel" else "d", name)
