"""CORS headers on every channelstream response, as 0.7 sent them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyramid.events import NewResponse

from channelstream.views.errors import ROUTE_PREFIX

if TYPE_CHECKING:
    from pyramid.config import Configurator

ALLOW_METHODS = "GET, POST, OPTIONS, PUT, DELETE, PATCH"
ALLOW_HEADERS = (
    "Content-Type, Depth, User-Agent, X-File-Size, X-Requested-With, If-Modified-Since, "
    "X-File-Name, Cache-Control, Pragma, Origin, Connection, Referer, Cookie, "
    "X-Channelstream-Secret"
)


def add_cors_headers(event: NewResponse) -> None:
    request = event.request
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
    headers = event.response.headers
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


def includeme(config: Configurator) -> None:
    config.add_subscriber(add_cors_headers, NewResponse)
