"""CORS headers as 0.7 sent them: on our routes and static files, never on a host's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from channelstream.runtime import runtime_of
from tests.support.webapp import SETTINGS, App, make


@pytest.fixture
def listed() -> Iterator[App]:
    app = make(**{"channelstream.allow_cors": "https://a.example https://b.example"})
    yield app
    app.runtime.stop()


def test_every_answer_of_ours_allows_any_origin_by_default(app: App) -> None:
    health = app.get("/health")
    assert health.headers["Access-Control-Allow-Origin"] == "*"
    assert (
        health.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS, PUT, DELETE, PATCH"
    )
    assert health.headers["Access-Control-Max-Age"] == "86400"
    assert "X-Channelstream-Secret" in health.headers["Access-Control-Allow-Headers"]
    # Errors too, and the preflight of any path.
    assert app.post_json("/connect", {}, status=403).headers["Access-Control-Allow-Origin"] == "*"
    preflight = app.options("/anything/at/all")
    assert preflight.status_int == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    client = app.get("/static/channelstream/channelstream.js")
    assert client.headers["Access-Control-Allow-Origin"] == "*"


def test_a_list_of_origins_is_echoed_only_for_those(listed: App) -> None:
    allowed = listed.get("/health", headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert allowed.headers["Vary"] == "Origin"
    other = listed.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in listed.get("/health").headers


def test_a_host_applications_own_routes_get_none() -> None:
    config = Configurator(settings=SETTINGS)
    config.include("channelstream", route_prefix="/rt")
    config.add_route("host.page", "/page")
    config.add_view(lambda request: request.response, route_name="host.page")
    config.add_static_view("assets", "channelstream:static/admin/")
    wsgi = config.make_wsgi_app()
    try:
        host = TestApp(wsgi)
        assert "Access-Control-Allow-Origin" not in host.get("/page").headers
        assert "Access-Control-Allow-Origin" not in host.get("/assets/admin.css").headers
        assert host.get("/rt/health").headers["Access-Control-Allow-Origin"] == "*"
        ours = host.get("/rt/static/channelstream/channelstream.js")
        assert ours.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        runtime_of(wsgi.registry).stop()
