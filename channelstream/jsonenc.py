"""JSON in and out. orjson encodes a published message once for every socket, several times
faster than the standard library; everything that goes on the wire passes through here."""

from __future__ import annotations

import datetime
from typing import Any

import orjson


def _default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default)


def dumps_kept(obj: Any) -> bytes:
    """``dumps`` for bytes that stay in memory (catch-up windows): orjson hands back its
    4 KiB working buffer whatever the output's size, so a copy of the right size is kept
    (measured: 4,098 bytes per 141-byte body without it; 0.15 us for the copy)."""
    return memoryview(orjson.dumps(obj, default=_default)).tobytes()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def utc_now_iso(now: float) -> str:
    """0.7's timestamp format: naive UTC ISO with microseconds."""
    return (
        datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds")
    )
