"""CORS headers on every channelstream response, as 0.7 sent them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from channelstream.runtime import runtime_of
from channelstream.views.errors import ROUTE_PREFIX

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request
    from pyramid.response import Response

ALLOW_METHODS = "GET, POST, OPTIONS, PUT, DELETE, PATCH"
ALLOW_HEADERS = (
    "Content-Type, Depth, User-Agent, X-File-Size, X-Requested-With, If-Modified-Since, "
    "X-File-Name, Cache-Control, Pragma, Origin, Connection, Referer, Cookie, "
    "X-Channelstream-Secret"
)


COMMON_HEADERS = [
    ("Access-Control-Allow-Methods", ALLOW_METHODS),
    ("Access-Control-Allow-Headers", ALLOW_HEADERS),
    ("Access-Control-Max-Age", "86400"),
    ("XDomainRequestAllowed", "1"),
]


def add_cors_headers(request: Request, response: Response) -> None:
    route = getattr(request, "matched_route", None)
    if route is None:
        return
    runtime = runtime_of(request)
    # Our routes, and our static files (the JS client is loaded from other origins).
    own_static = route.name.startswith("__") and request.path_info.startswith(runtime.static_path)
    if not (route.name.startswith(ROUTE_PREFIX) or own_static):
        return
    allowed = runtime.state.settings.allow_cors
    if "*" in allowed:
        first = [("Access-Control-Allow-Origin", "*")]
    else:
        origin = request.headers.get("Origin")
        if not origin or origin not in allowed:
            return
        first = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    # Appended to the raw header list: WebOb's per-header setter scans the whole list.
    response.headerlist.extend(first + COMMON_HEADERS)


def cors_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """A tween, not a NewResponse subscriber: any subscriber makes Pyramid notify every
    event of every request, which cost about 170 us a request."""

    def cors_tween(request: Request) -> Response:
        response = handler(request)
        add_cors_headers(request, response)
        return response

    return cors_tween


def includeme(config: Configurator) -> None:
    config.add_tween("channelstream.cors.cors_tween_factory")
