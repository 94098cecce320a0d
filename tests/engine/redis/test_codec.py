"""The Redis engine's wire format: what is kept and what travels survive the round trip."""

from __future__ import annotations

from channelstream import jsonenc
from channelstream.engine.base import Disconnected, Subscribed, Unsubscribed
from channelstream.engine.redis import codec
from channelstream.model.event import Event


def test_an_entry_keeps_the_payload_bytes_and_the_rules() -> None:
    event = Event(
        {"type": "message", "n": 1, "empty": [], "x": 1.0, "offset": 3, "epoch": "e"},
        channel="room",
        pm_users=frozenset({"b", "a"}),
        exclude_users=frozenset({"c"}),
    )
    entry = codec.encode_entry(event)
    rules, _, body = entry.partition(b"\n")
    assert jsonenc.loads(rules) == {"c": "room", "d": None, "pm": ["a", "b"], "ex": ["c"]}
    back = codec.decode_entry(entry)
    assert back.payload == event.payload and back.body == body
    assert (back.offset, back.epoch, back.channel) == (3, "e", "room")
    assert back.pm_users == event.pm_users and back.exclude_users == event.exclude_users


def test_direct_entries_name_their_user() -> None:
    back = codec.decode_entry(codec.encode_entry(Event({"n": 1}, channel=None, direct_to="bob")))
    assert back.channel is None and back.direct_to == "bob"


def test_every_envelope_travels_the_bus() -> None:
    event = Event({"type": "message"}, channel="room")
    wire = codec.encode_envelope(event)
    assert wire[:1] == b"E"
    assert codec.decode_envelope(wire).payload == {"type": "message"}
    for control in (
        Subscribed("c1", {"room": ("e", 3), "other": ("f", 0)}),
        Unsubscribed("c1", ("room", "other")),
        Disconnected("c1"),
    ):
        wire = codec.encode_envelope(control)
        assert wire[:1] == b"C" and codec.decode_envelope(wire) == control


def test_positions_and_streams() -> None:
    assert codec.position_of(codec.position_text(("e1", 42))) == ("e1", 42)
    assert codec.stream_args(("channel", "room")) == ("c", "room")
    assert codec.stream_args(("direct", "bob")) == ("d", "bob")
    assert list(codec.chunks(["a", "b", "c"], 2)) == [["a", "b"], ["c"]]
    assert len(codec.new_epoch()) == 12 and codec.new_epoch() != codec.new_epoch()
    assert codec.text(b"x") == "x" and codec.text(3) == "3"
