"""Server-to-client WebSocket frames, built once per event and shared by every socket.

Server frames are never masked and we negotiate no extension, so a text frame is a 2-10 byte
header and the payload; wsproto still parses what clients send and builds control frames.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from channelstream.model.event import EventBatch

OPCODE_TEXT = 0x1
FIN = 0x80

HEARTBEAT_BODY = b"[]"


def text_frame(payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = bytes((FIN | OPCODE_TEXT, length))
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN | OPCODE_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN | OPCODE_TEXT, 127, length)
    return header + payload


_HEADER_16 = struct.Struct("!BBH").pack


def array_frame(body: bytes) -> bytes:
    """``text_frame(json_array([body]))``, built in one step: a batch of one event is the
    common frame (one message to a channel), and this is 0.3 us where that is 0.8."""
    length = len(body) + 2
    if length < 126:
        return b"%c%c[%s]" % (FIN | OPCODE_TEXT, length, body)
    if length < 1 << 16:
        return b"%s[%s]" % (_HEADER_16(FIN | OPCODE_TEXT, 126, length), body)
    return text_frame(json_array([body]))


def batch_frame(batch: EventBatch) -> bytes:
    """One frame for the whole batch, made on first use and shared by its recipients."""
    frame = batch.ws_frame
    if frame is None:
        events = batch.events
        if len(events) == 1:
            frame = array_frame(events[0].body)
        else:
            frame = text_frame(json_array([event.body for event in events]))
        batch.ws_frame = frame
    return frame


def json_array(bodies: Iterable[bytes]) -> bytes:
    """Several encoded message objects as one JSON array (0.7 frames are arrays)."""
    return b"[" + b",".join(bodies) + b"]"


HEARTBEAT_FRAME = text_frame(HEARTBEAT_BODY)
