"""Encodings kept in catch-up windows cost their size, not orjson's working buffer."""

from __future__ import annotations

import tracemalloc

from channelstream import jsonenc

PAYLOAD = {"type": "message", "channel": "room", "message": {"text": "x" * 64}}


def allocated_per_item(encode: object, count: int = 300) -> float:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode(PAYLOAD) for _ in range(count)]  # type: ignore[operator]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert all(item == jsonenc.dumps(PAYLOAD) for item in kept)
    return (after - before) / count


def test_kept_encodings_are_sized_to_their_content() -> None:
    size = len(jsonenc.dumps(PAYLOAD))
    # bytes object header (33 bytes) plus the content, plus the list slot and some slack
    assert allocated_per_item(jsonenc.dumps_kept) < size + 80


def test_the_plain_encoder_is_not_used_for_what_is_kept() -> None:
    # Why dumps_kept exists: if orjson ever stops over-allocating, this fails and the copy
    # in dumps_kept can go.
    assert allocated_per_item(jsonenc.dumps) > 1000
