from __future__ import annotations

import struct

from channelstream.model.event import Event, EventBatch
from channelstream.realtime.frames import (
    HEARTBEAT_FRAME,
    array_frame,
    batch_frame,
    json_array,
    text_frame,
)


def test_small_medium_and_large_frame_headers() -> None:
    assert text_frame(b"x") == b"\x81\x01x"
    medium = text_frame(b"a" * 200)
    assert medium[:4] == b"\x81\x7e" + struct.pack("!H", 200) and len(medium) == 204
    large = text_frame(b"a" * 70000)
    assert large[:2] == b"\x81\x7f" and struct.unpack("!Q", large[2:10])[0] == 70000


def test_heartbeat_is_an_empty_array() -> None:
    assert HEARTBEAT_FRAME == b"\x81\x02[]"


def test_batch_frame_is_built_once_and_shared() -> None:
    events = [Event({"type": "message", "offset": n}, channel="c") for n in (1, 2)]
    batch = EventBatch(events)
    first = batch_frame(batch)
    assert first is batch_frame(batch)
    assert first.endswith(b"[" + events[0].body + b"," + events[1].body + b"]")


def test_a_frame_of_one_body_is_the_frame_of_its_array() -> None:
    # Around each header size: 7-bit, 16-bit and 64-bit lengths (the array adds 2 bytes).
    for size in (0, 1, 123, 124, 125, 126, 200, 65531, 65532, 65533, 65534, 70000):
        body = b"x" * size
        assert array_frame(body) == text_frame(json_array([body])), size
    event = Event({"type": "message", "offset": 1}, channel="c")
    assert batch_frame(EventBatch([event])) == text_frame(b"[" + event.body + b"]")


def test_json_array_joins_bodies() -> None:
    assert json_array([b"{}", b"1"]) == b"[{},1]"
    assert json_array([]) == b"[]"
