"""No reference cycle per call: Pyramid keeps a class-based view's instance on its request
(``request.__view__``, popped only on the renderer path, which our views do not take), and
the instance keeps the request; WebOb keeps the parsed query in the environ as a dict that
keeps the environ (``webob._parsed_query_vars``, the same for a form body). Each call's
request, environ and body reader then waited for the cycle collector, and for an upgraded
WebSocket so did the HTTP layer's read buffer (pywsgi's 8 KiB when this was found):
measured, 1-2 KiB of resident memory per idle socket after a burst of connects (the
collector runs every 50,000 allocations, server.GC_THRESHOLDS), and the collector's work on
the connect path. Unlinked after the view, refcounting frees them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request
    from pyramid.response import Response


def unlinking_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    def unlinking_tween(request: Request) -> Response:
        try:
            return handler(request)
        finally:
            request.__dict__.pop("__view__", None)
            environ = request.environ
            environ.pop("webob._parsed_query_vars", None)
            environ.pop("webob._parsed_post_vars", None)

    return unlinking_tween


def includeme(config: Configurator) -> None:
    config.add_tween("channelstream.views.cycles.unlinking_tween_factory")
