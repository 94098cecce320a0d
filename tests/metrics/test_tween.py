"""HTTP requests counted by route name, method and status (a real app in this process)."""

from __future__ import annotations

from tests.support.metrics import OUTSIDE, app_samples
from tests.support.webapp import App


def requests_of(app: App, route: str, method: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return app_samples(app).value("channelstream_http_requests_total", **labels)


def test_requests_are_counted_by_route_name_method_and_status(app: App) -> None:
    app.api("POST", "/connect", {"username": "alice", "channels": ["a"]})
    app.get("/info", status=403, extra_environ=OUTSIDE)
    app.get("/no/such/thing", status=404)
    app.request("/health", method="TRACE", status=405)
    assert requests_of(app, "channelstream.connect", "POST", "200") == 1
    assert requests_of(app, "channelstream.info", "GET", "403") == 1
    assert requests_of(app, "none", "GET", "404") == 1
    assert requests_of(app, "channelstream.health", "other", "405") == 1


def test_a_repeated_request_counts_each_time_and_times_each_time(app: App) -> None:
    for _ in range(3):
        app.get("/health")
    samples = app_samples(app)
    labels = {"method": "GET", "route": "channelstream.health", "status": "200"}
    assert samples.value("channelstream_http_requests_total", **labels) == 3
    assert (
        samples.value(
            "channelstream_http_request_duration_seconds_count", route="channelstream.health"
        )
        == 3
    )
