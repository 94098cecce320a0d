"""Every error becomes a JSON answer with its status; nothing unexpected becomes a hang."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pyramid.httpexceptions import HTTPException
from pyramid.response import Response

from channelstream import jsonenc, security
from channelstream.errors import LimitReached, RequestError, Unavailable
from channelstream.redaction import redact
from channelstream.runtime import runtime_of

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

ROUTE_PREFIX = "channelstream."

log = logging.getLogger(__name__)


def json_response(body: object, status: int) -> Response:
    return Response(
        body=jsonenc.dumps(body), status=status, content_type="application/json", charset=None
    )


def request_error(exc: RequestError, request: Request) -> Response:
    return json_response(exc.body, exc.status)


def limit_reached(exc: LimitReached, request: Request) -> Response:
    """Every refusal by a limit is answered here, so it is counted here (and logged at most
    once a minute per address: ``limits.refusals``)."""
    runtime = runtime_of(request)
    address = security.client_address(request, runtime.state.settings)
    with runtime.state.concurrency.guard:
        runtime.limits.refusals.refused(exc.limit, address, exc.message)
    response = json_response(exc.body, exc.status)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def http_exception(exc: HTTPException, request: Request) -> Response:
    if exc.status_int < 400:
        return exc  # redirects stay redirects
    response = json_response({"request": exc.title or exc.explanation}, exc.status_int)
    for name in ("Allow", "Location", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def unavailable(exc: Exception, request: Request) -> Response:
    """The shared state (Redis) cannot be reached: try again, not a server bug."""
    path = redact(request.path)  # a path may hold "?secret=" percent-encoded
    log.warning("shared state unavailable on %s %s: %s", request.method, path, exc)
    runtime_of(request).unavailable_answers += 1
    response = json_response({"request": "Service unavailable, try again"}, 503)
    response.headers["Retry-After"] = "1"
    return response


def _unavailable_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisDown
        from redis.exceptions import TimeoutError as RedisSlow
    except ImportError:
        return (Unavailable,)
    return (Unavailable, RedisDown, RedisSlow)


def unexpected(exc: Exception, request: Request) -> Response:
    log.exception("unexpected error on %s %s", request.method, redact(request.path))
    return json_response({"request": "Internal server error"}, 500)


class OwnRoute:
    """View predicate: the request matched one of channelstream's routes, so an add-on's
    error views never take over the host application's errors."""

    def __init__(self, value: bool, config: Configurator) -> None:
        self.value = value

    def text(self) -> str:
        return f"channelstream_route = {self.value}"

    phash = text

    def __call__(self, context: object, request: Request) -> bool:
        route = getattr(request, "matched_route", None)
        own = route is not None and route.name.startswith(ROUTE_PREFIX)
        return own == self.value


def includeme(config: Configurator) -> None:
    config.add_view_predicate("channelstream_route", OwnRoute)
    for view, context in (
        (request_error, RequestError),
        (limit_reached, LimitReached),
        (http_exception, HTTPException),
        (unexpected, Exception),
    ):
        config.add_exception_view(view, context=context, channelstream_route=True)
    for context in _unavailable_errors():
        config.add_exception_view(unavailable, context=context, channelstream_route=True)


def include_standalone(config: Configurator) -> None:
    """When channelstream is the whole application, every error is JSON."""
    config.add_exception_view(http_exception, context=HTTPException, channelstream_route=False)
    config.add_exception_view(unexpected, context=Exception, channelstream_route=False)
