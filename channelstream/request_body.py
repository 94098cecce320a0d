"""A request's raw body, read once, in pieces, never past ``max_body_size``.

The request-bound signature hashes the bytes the server read, and the view then parses the
same bytes (or the sign-in form's fields): all take them from here, so the body is read
exactly once, chunked or not. A body announced larger than the limit is refused before a
byte is read; one without a length (chunked) is read a piece at a time and refused as soon
as it passes the limit, so no request makes us hold more than the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channelstream.errors import BadRequest, PayloadTooLarge, RequestError

if TYPE_CHECKING:
    from pyramid.request import Request

_KEY = "channelstream.raw_body"

# One read at most this large: a chunked body grows by this much before it is checked.
PIECE = 65536


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge({"body": [f"Larger than {limit} bytes."]})


def check_declared_length(request: Request, limit: int) -> None:
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)


def raw_body(request: Request, limit: int) -> bytes:
    """The body's bytes: 413 past ``limit``, 400 when it ends before its Content-Length
    (or its chunking breaks), 408 when it does not arrive within the server's body
    timeout."""
    environ = request.environ
    cached: bytes | None = environ.get(_KEY)
    if cached is not None:
        return cached
    length = request.content_length  # parsed once here (WebOb parses it at every read)
    if length is not None and length > limit:
        raise too_large(limit)
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""  # no length, and a server that cannot say where a body ends: none
    source = environ["wsgi.input"]
    try:
        if length is not None and length <= PIECE:
            # The common case, a small API call: one read of the raw input (WebOb's
            # body_file would wrap it in two more readers per request).
            raw = source.read(length)
        else:
            raw = _read_pieces(source, length, limit)
    except TimeoutError:
        raise RequestError.with_status(408, {"body": ["Not received in time."]}) from None
    except (OSError, ValueError):
        # Our server (http_input) reports a body that ended early as an OSError, broken
        # chunking as a ValueError; other servers raise one or the other too.
        raise _cut_short(length) from None
    if length is not None and len(raw) < length:
        raise _cut_short(length)
    environ[_KEY] = raw
    return raw


def _read_pieces(source: Any, length: int | None, limit: int) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while True:
        want = PIECE if length is None else min(PIECE, length - size)
        if want <= 0:
            break
        piece = source.read(want)
        if not piece:
            break
        size += len(piece)
        if size > limit:
            raise too_large(limit)
        pieces.append(piece)
    return b"".join(pieces)


def _cut_short(length: int | None) -> BadRequest:
    if length is None:
        return BadRequest({"body": ["The body ended before it was complete."]})
    return BadRequest({"body": [f"Shorter than its Content-Length ({length} bytes)."]})
