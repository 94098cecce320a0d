"""CORS headers on every channelstream response, as 0.7 sent them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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


def add_cors_headers(request: Request, response: Response) -> None:
    route = getattr(request, "matched_route", None)
    # Our routes, and our static files (the JS client is loaded from other origins).
    own_static = (
        route is not None
        and route.name.startswith("__")
        and (request.path_info.startswith(request.registry["channelstream.static_path"]))
    )
    if route is None or not (route.name.startswith(ROUTE_PREFIX) or own_static):
        return
    allowed = request.registry["channelstream.allow_cors"]
    origin = request.headers.get("Origin")
    headers = response.headers
    if "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    else:
        return
    headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
    headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    headers["Access-Control-Max-Age"] = "86400"
    headers["XDomainRequestAllowed"] = "1"


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
