"""Request bodies: never past ``max_body_size``, on every route, read in pieces.

A body announced larger than the limit is refused before its view runs (a view deriver
on every channelstream view). A body without a length (chunked) is read piece by piece and
refused as soon as it passes the limit, so no request can make us hold more than the limit.
Forms (the admin sign-in) are read the same way and parsed here, not by WebOb, which would
read any size into memory first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from channelstream.errors import BadRequest, PayloadTooLarge, RequestError
from channelstream.state import get_state
from channelstream.views.errors import ROUTE_PREFIX

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

# One read at most this large: a chunked body grows by this much before it is checked.
PIECE = 65536
# A sign-in form has two fields; a few more are tolerated, thousands are an attack.
MAX_FORM_FIELDS = 20
FORM_TYPE = "application/x-www-form-urlencoded"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge({"body": [f"Larger than {limit} bytes."]})


def check_declared_length(request: Request, limit: int) -> None:
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)


def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes: 413 past it, 400 when it ends before its
    Content-Length, 408 when it does not arrive within the server's body timeout."""
    check_declared_length(request, limit)
    length = request.content_length
    environ = request.environ
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that cannot say where a body ends: none
    source = environ["wsgi.input"]
    try:
        if length is not None and length <= PIECE:
            # The common case: a small API call, one read.
            raw = source.read(length)
        else:
            raw = _read_pieces(source, length, limit)
    except TimeoutError:
        raise RequestError.with_status(408, {"body": ["Not received in time."]}) from None
    except (OSError, ValueError):
        # pywsgi reports a body that ended early (or broken chunking) as an IOError.
        raise _short(length) from None
    if length is not None and len(raw) < length:
        raise _short(length)
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


def _short(length: int | None) -> BadRequest:
    if length is None:
        return BadRequest({"body": ["Malformed chunked body."]})
    return BadRequest({"body": [f"Shorter than its Content-Length ({length} bytes)."]})


def form_fields(request: Request, limit: int) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each), read as ``read_body`` reads."""
    if request.content_type not in ("", FORM_TYPE):
        raise BadRequest({"body": [f"Send the form as {FORM_TYPE}."]})
    raw = read_body(request, limit)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:
        raise BadRequest({"body": [f"More than {MAX_FORM_FIELDS} form fields."]}) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def body_limit(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """View deriver: every channelstream view refuses an announced body over the limit
    before it runs (views that read no body included: nobody sends 100 MB for free)."""
    if info.exception_only:
        return view

    def limited(context: Any, request: Request) -> Any:
        route = getattr(request, "matched_route", None)
        if route is not None and route.name.startswith(ROUTE_PREFIX):
            check_declared_length(request, get_state().settings.max_body_size)
        return view(context, request)

    return limited


def includeme(config: Configurator) -> None:
    config.add_view_deriver(body_limit)
