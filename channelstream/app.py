"""The composition root: settings, state, engine, hub and background tasks, wired once."""

from __future__ import annotations

import logging
from typing import Any

from pyramid.config import Configurator
from pyramid.router import Router

from channelstream import concurrency, startup, state
from channelstream.engine import create_engine
from channelstream.hub import Hub
from channelstream.settings import Settings, parse_settings
from channelstream.tasks import Tasks

log = logging.getLogger(__name__)


def build_state(settings: Settings, *, start_tasks: bool = True) -> state.State:
    runtime = concurrency.for_this_process()
    hub = Hub(schedule=runtime.schedule())
    hub.guard = runtime.guard  # for envelopes from an engine's own thread
    engine = create_engine(settings)
    current = state.State(settings=settings, engine=engine, hub=hub, runtime=runtime)
    engine.start(hub.deliver)
    if start_tasks:
        current.tasks = Tasks(current)
        current.tasks.start()
    return current


def configure(config: Configurator) -> None:
    settings = parse_settings(config.get_settings())
    logging.getLogger("channelstream").setLevel(settings.log_level)
    registry = config.registry
    registry["channelstream.allow_cors"] = settings.allow_cors
    registry["channelstream.signature_checker"] = startup.signature_checker(
        config, settings.signature_checker
    )
    if settings.engine == "redis":
        startup.require_redis(settings)
    config.add_view_deriver(concurrency.serialised_view, name="channelstream_serialised")
    config.include("channelstream.views.errors")
    config.include("channelstream.cors")
    config.include("channelstream.routes")
    # One state per process: a new configuration replaces (and stops) the previous one.
    state.reset()
    state.install(build_state(settings))
    log.info("channelstream %s configured: %s", _version(), settings.redacted())


def _version() -> str:
    from channelstream import __version__

    return __version__


def make_app(settings: dict[str, Any]) -> Router:
    config = Configurator(settings=settings)
    config.include("channelstream")
    from channelstream.views.errors import include_standalone

    include_standalone(config)
    return config.make_wsgi_app()
