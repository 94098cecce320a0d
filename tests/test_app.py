"""Pyramid's conventions for an add-on: our keys only, swappable parts by dotted name,
nothing started at configuration time, one runtime per application."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.events import ApplicationCreated, NewRequest
from webtest import TestApp

import channelstream
from channelstream.engine.memory import MemoryEngine
from channelstream.errors import ConfigurationError
from channelstream.runtime import running, runtime_of, runtime_served
from channelstream.settings import Settings
from tests.support.webapp import SETTINGS


class RecordingEngine(MemoryEngine):
    """A third-party engine, named by its dotted name in the ini."""

    made: list[RecordingEngine] = []

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.started = False
        RecordingEngine.made.append(self)

    def start(self, events: Any) -> None:
        self.started = True
        super().start(events)


def configured(**settings: str) -> Configurator:
    config = Configurator(settings={**SETTINGS, **settings})
    config.include("channelstream")
    return config


def test_only_prefixed_keys_are_ours() -> None:
    """A host application's own `secret` or `listen` is never taken for ours."""
    config = configured(secret="the-hosts-own", listen="10.9.9.9:1", engine="redis")
    settings = runtime_of(config.registry).state.settings
    assert settings.secret == SETTINGS["channelstream.secret"]
    assert settings.listen == "0.0.0.0:8000" and settings.engine == "memory"


def test_the_engine_is_named_by_a_short_or_a_dotted_name() -> None:
    runtime = runtime_of(configured(**{"channelstream.engine": "memory"}).registry)
    assert type(runtime.state.engine) is MemoryEngine
    dotted = configured(**{"channelstream.engine": "tests.test_app.RecordingEngine"})
    engine = runtime_of(dotted.registry).state.engine
    assert isinstance(engine, RecordingEngine) and engine is RecordingEngine.made[-1]
    colon = configured(**{"channelstream.engine": "tests.test_app:RecordingEngine"})
    assert isinstance(runtime_of(colon.registry).state.engine, RecordingEngine)


@pytest.mark.parametrize("name", ["nowhere.Engine", "tests.test_app.Missing", "no such"])
def test_a_name_that_names_nothing_stops_the_start_with_one_sentence(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"channelstream\.engine = .* cannot be imported"):
        configured(**{"channelstream.engine": name})
    with pytest.raises(SystemExit, match=r"^channelstream: channelstream\.engine"):
        channelstream.main({}, **{**SETTINGS, "channelstream.engine": name})


def test_nothing_starts_until_the_application_is_created() -> None:
    config = configured(**{"channelstream.engine": "tests.test_app.RecordingEngine"})
    runtime = runtime_of(config.registry)
    engine = runtime.state.engine
    assert isinstance(engine, RecordingEngine)
    assert not engine.started and not runtime.started and runtime.tasks is None
    app = config.make_wsgi_app()
    try:
        assert engine.started and runtime.started and runtime.tasks is not None
        assert runtime in running()
        # The one-shot subscriber is gone: requests do not pay for event notification.
        assert app.registry.has_listeners is False
        assert TestApp(app).get("/health").json["status"] == "ok"
    finally:
        runtime.stop()
    assert runtime not in running() and runtime.tasks is None


def test_a_hosts_own_subscribers_keep_working() -> None:
    config = configured()
    seen: list[str] = []
    config.add_subscriber(lambda event: seen.append(event.request.path), NewRequest)
    created: list[object] = []
    config.add_subscriber(created.append, ApplicationCreated)
    app = config.make_wsgi_app()
    try:
        assert len(created) == 1 and app.registry.has_listeners is True
        TestApp(app).get("/health")
        assert seen == ["/health"]
    finally:
        runtime_of(app.registry).stop()


def test_a_second_include_keeps_the_first_runtime() -> None:
    config = configured()
    first = runtime_of(config.registry)
    config.include("channelstream")
    assert runtime_of(config.registry) is first


def test_two_applications_in_one_process_keep_their_own_state() -> None:
    one = configured(**{"channelstream.secret": "one"}).make_wsgi_app()
    two = configured(**{"channelstream.secret": "two"}).make_wsgi_app()
    first, second = runtime_of(one.registry), runtime_of(two.registry)
    try:
        assert first.state is not second.state
        assert first.state.settings.secret == "one" and second.state.settings.secret == "two"
        second.stop()
        assert first.started and TestApp(one).get("/health").status_int == 200
    finally:
        first.stop()
        second.stop()


def test_the_runner_serves_the_runtime_of_the_app_it_is_given() -> None:
    app = configured().make_wsgi_app()
    runtime = runtime_of(app.registry)
    try:
        assert runtime_served(app) is runtime

        def wrapped(environ: Any, start_response: Any) -> Any:  # a middleware: no registry
            return app(environ, start_response)

        assert runtime_served(wrapped) is runtime  # the one running in this process
        other = configured().make_wsgi_app()
        try:
            with pytest.raises(SystemExit, match="2 channelstream applications"):
                runtime_served(wrapped)
        finally:
            runtime_of(other.registry).stop()
    finally:
        runtime.stop()
