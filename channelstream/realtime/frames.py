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


def batch_frame(batch: EventBatch) -> bytes:
    """One frame for the whole batch, made on first use and shared by its recipients."""
    frame = batch.ws_frame
    if frame is None:
        frame = text_frame(json_array([event.body for event in batch.events]))
        batch.ws_frame = frame
    return frame


def json_array(bodies: Iterable[bytes]) -> bytes:
    """Several encoded message objects as one JSON array (0.7 frames are arrays)."""
    return b"[" + b",".join(bodies) + b"]"


HEARTBEAT_FRAME = text_frame(HEARTBEAT_BODY)
