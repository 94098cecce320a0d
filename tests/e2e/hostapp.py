"""A host Pyramid application that embeds channelstream as an add-on under /rt.

Served by channelstream's own runner (`use = egg:channelstream#gevent` in hostapp.ini) so
the WebSocket route works; its own routes prove the host keeps working beside the add-on,
and /whoami proves gevent patched threading before Pyramid's thread-locals were made.
"""

from __future__ import annotations

from typing import Any

import gevent
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.router import Router
from pyramid.threadlocal import get_current_registry, get_current_request


def health(request: Request) -> dict[str, Any]:
    return {"host": "ok"}


def hello(request: Request) -> dict[str, Any]:
    return {"hello": request.matchdict["who"], "app": request.registry.settings["host.name"]}


def whoami(request: Request) -> dict[str, Any]:
    """Yield to other greenlets, then check the thread-locals still name this request."""
    tag = request.GET.get("tag", "")
    gevent.sleep(float(request.GET.get("sleep", "0.3")))
    current = get_current_request()
    return {
        "tag": tag,
        "same": current is request,
        "current_tag": current.GET.get("tag") if current is not None else None,
        "registry_ok": get_current_registry() is request.registry,
    }


def main(global_config: dict[str, Any], **settings: Any) -> Router:
    config = Configurator(settings=settings)
    config.include("channelstream", route_prefix="/rt")
    config.add_route("host.health", "/health")
    config.add_view(health, route_name="host.health", renderer="json")
    config.add_route("host.hello", "/hello/{who}")
    config.add_view(hello, route_name="host.hello", renderer="json")
    config.add_route("host.whoami", "/whoami")
    config.add_view(whoami, route_name="host.whoami", renderer="json")
    return config.make_wsgi_app()
