"""Attaching a transport to a connection: catch-up first, then live, nothing lost or doubled.

The transport is registered with the hub before the replay is read, and the hub holds live
events until the replay is sent; the offsets then drop whatever the replay already covered.
What the replay contains, and when a gap is announced, ``recovery`` decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channelstream import jsonenc
from channelstream.delivery.hub import DIRECT, LocalConnection, Transport
from channelstream.errors import BadRequest
from channelstream.model.connection import Position

if TYPE_CHECKING:
    from channelstream.state import State

Resume = dict[str | None, Position]


def parse_resume(text: str | None) -> Resume:
    """The `resume` query parameter: {"channels": {name: [epoch, offset]}, "direct": [...]}."""
    if not text:
        return {}
    try:
        data = jsonenc.loads(text)
    except ValueError:
        raise BadRequest({"resume": ["Not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise BadRequest({"resume": ["Must be an object."]})
    resume: Resume = {}
    channels = data.get("channels", {})
    if not isinstance(channels, dict):
        raise BadRequest({"resume": {"channels": ["Must be an object."]}})
    for name, position in channels.items():
        resume[name] = _position(position, ("channels", name))
    if data.get("direct") is not None:
        resume[DIRECT] = _position(data["direct"], ("direct",))
    return resume


def _position(value: Any, where: tuple[str, ...]) -> Position:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and value[1] >= 0
    ):
        return (value[0], value[1])
    raise BadRequest({"resume": {".".join(where): ["Must be [epoch, offset]."]}})


def attach(
    state: State, conn_id: str, transport: Transport, resume: Resume
) -> LocalConnection | None:
    """Register the transport and send it what the connection missed; None if unknown."""
    conn = state.engine.get_connection(conn_id)
    if conn is None:
        return None
    positions = dict(conn.positions)
    live = state.hub.connections.get(conn_id)
    if live is not None:
        # A transport still attached here knows better than the stored record.
        positions.update(live.positions)
    asked = {key for key in resume if key is DIRECT or key in conn.channels}
    positions.update({key: resume[key] for key in asked})
    local = state.hub.attach(conn.conn_id, conn.username, conn.channels, positions, transport)
    try:
        bodies = state.recovery.catch_up(local, asked)
        if bodies:
            transport.send_bodies(bodies)
    finally:
        state.hub.release(local)
    state.engine.touch_connection(conn_id, state.clock())
    return local


def detach(state: State, local: LocalConnection, *, socket_closed: bool = False) -> None:
    """Stop routing to the transport and keep what it was sent.

    A long-poll ends after every answer, so its connection stays until it is idle for
    ``gc_conns_after``. A WebSocket that closed leaves its connection to collection at once,
    as 0.7.1 did (it dated the last activity far back), so the other users see "parted"
    within a second or two, not 15 s. Its last activity is dated so that the first pass at
    least one ``gc_conns_interval`` after the close collects it: a client that reattaches
    the same conn_id sooner (the JS client reconnects after 125-250 ms) always finds its
    connection, since attaching is activity. A socket replaced by a newer one for the same
    connection leaves it alone."""
    positions = state.hub.detach(local)
    state.engine.save_positions(local.conn_id, positions)
    now = state.clock()
    if socket_closed and local.conn_id not in state.hub.connections:
        settings = state.settings
        now -= settings.gc_conns_after - settings.gc_conns_interval
    state.engine.touch_connection(local.conn_id, now)
