"""The node's figures read from a real app in this process."""

from __future__ import annotations

from channelstream.metrics import figures
from tests.support.webapp import App


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


def test_close_codes_a_client_invents_share_one_series(app: App) -> None:
    app.runtime.state.hub.ws_closes.update({1000: 2, 4008: 1, 4001: 1, 4999: 2, 3000: 1})
    assert figures.read(app.runtime)["ws_closes"] == {
        ("1000",): 2,
        ("4008",): 1,
        ("4xxx",): 3,
        ("3xxx",): 1,
    }
