"""GET /metrics: the Prometheus text format (``channelstream.metrics``); who may read it
is said where the route is added (``views.guards.METRICS``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST
from pyramid.response import Response

from channelstream.metrics.tween import REGISTRY_KEY

if TYPE_CHECKING:
    from pyramid.request import Request


def metrics(request: Request) -> Response:
    body = request.registry[REGISTRY_KEY].scrape()
    response = Response(body=body, charset=None)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
