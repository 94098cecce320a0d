"""The composition root: ``config.include("channelstream")`` wires everything, once.

Settings are read only from ``channelstream.*`` keys (and their environment overrides); the
engine and the signature checker are resolved from dotted names at configuration time, so a
misspelt name stops the start with one sentence. Nothing starts here: the engine's subscriber
and the background loops start when the application is created (``ApplicationCreated``), or
when the runner starts serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import IApplicationCreated
from pyramid.registry import Registry
from pyramid.router import Router

from channelstream import concurrency, startup
from channelstream.delivery.hub import Hub
from channelstream.engine.base import Engine
from channelstream.errors import ConfigurationError
from channelstream.runtime import REGISTRY_KEY, Runtime, runtime_of
from channelstream.settings import Settings, parse_settings
from channelstream.state import State
from channelstream.version import __version__

log = logging.getLogger(__name__)

# channelstream.engine: a short name, or the dotted name of a callable (settings) -> Engine.
ENGINES = {
    "memory": "channelstream.engine.memory.MemoryEngine",
    "redis": "channelstream.engine.redis.RedisEngine",
}

EngineFactory = Callable[[Settings], Engine]


def resolve(config: Configurator, key: str, name: str) -> Any:
    """What a dotted name in the settings names; a clear error when it names nothing."""
    try:
        return config.maybe_dotted(name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"channelstream.{key} = {name!r} cannot be imported: {exc}"
        ) from None


def includeme(config: Configurator) -> None:
    settings = parse_settings(config.get_settings())
    logging.getLogger("channelstream").setLevel(settings.log_level)
    if settings.log_format == "json":
        from channelstream.logs.json_lines import use_json

        use_json()
    engine_name = ENGINES.get(settings.engine, settings.engine)
    make_engine: EngineFactory = resolve(config, "engine", engine_name)
    check_signature = startup.signature_checker(config, settings.signature_checker)
    if engine_name == ENGINES["redis"]:
        startup.require_redis(settings)
    # Greenlets, or threads in a host that does not patch gevent (waitress).
    works = concurrency.for_this_process()
    hub = Hub(schedule=works.schedule())
    state = State(settings=settings, engine=make_engine(settings), hub=hub, concurrency=works)
    runtime = Runtime(state=state, check_signature=check_signature)
    # One key, one typed object: everything the views, the tween and the runner need.
    config.registry[REGISTRY_KEY] = runtime
    config.add_view_deriver(concurrency.serialised_view, name="channelstream_serialised")
    config.include("channelstream.views.errors")
    config.include("channelstream.views.guards")
    config.include("channelstream.cors")
    config.include("channelstream.views.cycles")
    config.include("channelstream.routes")
    config.include("channelstream.metrics")
    config.action(("channelstream", "start"), _start_when_created, args=(config.registry,))
    log.info("channelstream %s configured: %s", __version__, settings.redacted())


def _start_when_created(registry: Registry) -> None:
    registry.registerHandler(_start_runtime, (IApplicationCreated,))


def _start_runtime(event: Any) -> None:
    """ApplicationCreated: start the runtime, then stop listening for events. Pyramid
    notifies every event of every request (NewRequest, NewResponse...) as soon as one
    subscriber exists, measured at about 170 us a request; gone, requests skip it again."""
    registry = event.app.registry
    registry.unregisterHandler(_start_runtime, (IApplicationCreated,))
    registry.has_listeners = _any(registry.registeredHandlers()) or _any(
        registry.registeredSubscriptionAdapters()
    )
    runtime_of(registry).start()


def _any(items: Any) -> bool:
    return next(iter(items), None) is not None


def make_app(settings: dict[str, Any]) -> Router:
    """channelstream as the whole application (the paste app factory's work)."""
    config = Configurator(settings=settings)
    config.include("channelstream")
    from channelstream.views.errors import include_standalone

    include_standalone(config)
    return config.make_wsgi_app()
