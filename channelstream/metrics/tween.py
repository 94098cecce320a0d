"""Every HTTP request counted and timed, by the name of the route it matched.

A route name, not the path: paths carry connection ids and channel names, and every
distinct label value is a series Prometheus keeps. For the same reason an unknown method
is counted as ``other``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelstream.metrics.families import Families

if TYPE_CHECKING:
    from pyramid.registry import Registry
    from pyramid.request import Request
    from pyramid.response import Response

Handler = Callable[["Request"], "Response"]

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
REGISTRY_KEY = "channelstream.metrics"
# No route matched (a 404, or a static file): one label value for all of them.
NO_ROUTE = "none"


def route_of(request: Request) -> str:
    matched = request.matched_route
    return matched.name if matched is not None else NO_ROUTE


def counting_tween(handler: Handler, registry: Registry) -> Handler:
    families: Families = registry[REGISTRY_KEY].families
    requests = families.http_requests
    duration = families.http_duration
    # prometheus_client's ``labels()`` checks and locks on every call (~1.5 us each, twice
    # per request); the children it answers are stable, so each is asked for once. The
    # keys are bounded like the series themselves (routes x methods x statuses).
    counters: dict[tuple[str, str, int], Any] = {}
    timers: dict[str, Any] = {}

    def counted(request: Request) -> Response:
        started = time.perf_counter()
        status = 500  # what the client gets when the handler raises past every view
        try:
            response = handler(request)
            status = response.status_int
            return response
        finally:
            route = route_of(request)
            method = request.method if request.method in METHODS else "other"
            key = (route, method, status)
            counter = counters.get(key)
            if counter is None:
                counter = counters[key] = requests.labels(route, method, str(status))
            counter.inc()
            timer = timers.get(route)
            if timer is None:
                timer = timers[route] = duration.labels(route)
            timer.observe(time.perf_counter() - started)

    return counted
