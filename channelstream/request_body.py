"""A request's raw body, read once, within ``max_body_size``.

The request-bound signature hashes the bytes the server read, and the view then parses the
same bytes: both take them from here, so the body is read exactly once, chunked or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channelstream.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from pyramid.request import Request

_KEY = "channelstream.raw_body"


def raw_body(request: Request, limit: int) -> bytes:
    """The body's bytes; 413 when over ``limit``, 400 when it ends early."""
    environ = request.environ
    cached: bytes | None = environ.get(_KEY)
    if cached is not None:
        return cached
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge({"body": [f"Larger than {limit} bytes."]})
    try:
        if length is not None:
            # The raw input: WebOb's body_file would wrap it in two more readers per request.
            raw = request.body_file_raw.read(length)
        else:  # chunked: the server decodes the chunks; read no more than the limit allows
            raw = request.body_file.read(limit + 1)
    except OSError:  # a chunked body cut off or malformed
        raise BadRequest({"body": ["The body ended before it was complete."]}) from None
    if len(raw) > limit:
        raise PayloadTooLarge({"body": [f"Larger than {limit} bytes."]})
    environ[_KEY] = raw
    return raw
