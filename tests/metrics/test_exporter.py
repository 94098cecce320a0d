"""/metrics in this process: who may read it, and what a request adds to it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from channelstream.metrics import figures
from tests.support.webapp import App

OUTSIDE = {"REMOTE_ADDR": "127.0.0.2"}


def samples(app: App, **kwargs: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = app.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert answer.content_type == "text/plain"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def requests_of(app: App, route: str, method: str, status: str) -> float:
    key = (
        "channelstream_http_requests_total",
        (("method", method), ("route", route), ("status", status)),
    )
    return samples(app).get(key, 0.0)


def test_an_allowed_address_reads_them_and_others_need_a_signature(app: App) -> None:
    assert ("channelstream_engine_up", ()) in samples(app)
    refused = app.get("/metrics", extra_environ=OUTSIDE, status=403)
    assert refused.json == {"request": "Address 127.0.0.2 may not read the metrics unsigned"}
    assert ("channelstream_engine_up", ()) in samples(
        app, extra_environ=OUTSIDE, headers=app.signed()
    )
    wrong = {"x-channelstream-secret": "not.a.signature"}
    app.get("/metrics", extra_environ=OUTSIDE, headers=wrong, status=401)


def test_requests_are_counted_by_route_name_method_and_status(app: App) -> None:
    app.api("POST", "/connect", {"username": "alice", "channels": ["a"]})
    app.get("/info", status=403, extra_environ=OUTSIDE)
    app.get("/no/such/thing", status=404)
    app.request("/health", method="TRACE", status=405)
    assert requests_of(app, "channelstream.connect", "POST", "200") == 1
    assert requests_of(app, "channelstream.info", "GET", "403") == 1
    assert requests_of(app, "none", "GET", "404") == 1
    assert requests_of(app, "channelstream.health", "other", "405") == 1


def test_the_figures_read_the_node(app: App) -> None:
    conn_id = app.api("POST", "/connect", {"username": "alice", "channels": ["a"]}).json["conn_id"]
    app.api("POST", "/message", [{"channel": "a", "user": "bob", "message": {"n": 1}}])
    reading = figures.read(app.runtime)
    assert reading["engine_up"] == {(): 1}
    assert reading["users"] == {(): 1} and reading["channels"] == {(): 1}
    assert reading["connections"] == {("websocket",): 0, ("longpoll",): 0}
    # Nobody listens here yet: the event entered the hub, no socket got it.
    assert reading["published"] == {(): 1}
    assert reading["deliveries"] == {("websocket",): 0, ("longpoll",): 0}
    app.get("/listen", {"conn_id": conn_id})
    assert figures.read(app.runtime)["deliveries"][("longpoll",)] == 1  # caught up


def test_an_engine_that_fails_reads_as_down_with_the_counts_left_out(app: App) -> None:
    engine = app.runtime.state.engine

    def broken() -> dict[str, object]:
        raise ConnectionError("gone")

    engine.health = broken  # type: ignore[method-assign]
    reading = figures.read(app.runtime)
    assert reading["engine_up"] == {(): 0} and "users" not in reading
    app.runtime.unavailable_answers += 2
    assert figures.read(app.runtime)["engine_errors"] == {(): 2}
