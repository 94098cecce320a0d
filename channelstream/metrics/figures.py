"""What the node has counted, read at once: its plain counters and gauges, labelled.

The hub, recovery, the WebSocket sessions, collection, the limits and the webhook sender
keep plain ints where they work (an addition, never a lock or a label lookup on the
publish path); this reads them into ``Reading``: {family: {label values: value}}, the
families' attribute names of ``metrics.families``. Only the engine is asked anything (is
it up, how many users and channels): one round trip per scrape on Redis.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from channelstream.realtime.websocket import CLOSE_SLOW_CONSUMER
from channelstream.tasks import COLLECTED

if TYPE_CHECKING:
    from channelstream.runtime import Runtime

log = logging.getLogger(__name__)

Reading = dict[str, dict[tuple[str, ...], float]]

WEBSOCKET = "websocket"
LONGPOLL = "longpoll"


def read(runtime: Runtime) -> Reading:
    state = runtime.state
    with state.concurrency.guard:  # the hub's dicts, in a threaded host
        reading = _node(runtime)
    reading.update(_engine(runtime))
    return reading


def _node(runtime: Runtime) -> Reading:
    state = runtime.state
    hub, recovery = state.hub, state.recovery
    longpoll = sum(1 for local in hub.connections.values() if local.longpoll)
    collected = runtime.tasks.collected if runtime.tasks is not None else {}
    reading: Reading = {
        "connections": {(WEBSOCKET,): len(hub.connections) - longpoll, (LONGPOLL,): longpoll},
        "published": {(): hub.published},
        "deliveries": {
            (WEBSOCKET,): hub.deliveries - hub.longpoll_deliveries,
            (LONGPOLL,): hub.longpoll_deliveries,
        },
        "frames_sent": {(): hub.frames_sent},
        "ws_closes": _closes(hub.ws_closes),
        "slow_consumers": {(): hub.ws_closes.get(CLOSE_SLOW_CONSUMER, 0)},
        "gaps": {(reason,): count for reason, count in recovery.gaps.items()},
        "catchup_events": {(): recovery.catchup_events},
        "engine_errors": {(): state.engine.error_count() + runtime.unavailable_answers},
        "gc_collected": {(kind,): collected.get(kind, 0) for kind in COLLECTED},
        "limit_refusals": {
            (limit,): count for limit, count in runtime.limits.refusals.counts.items()
        },
    }
    sender = runtime.webhooks
    if sender is not None:
        counts = sender.counts
        reading["webhook_events"] = {
            ("sent",): counts.get("sent", 0),
            ("abandoned",): counts.get("abandoned", 0),
        }
        reading["webhook_failures"] = {(): counts.get("failures", 0)}
    return reading


def _closes(closes: dict[int, int]) -> dict[tuple[str, ...], float]:
    """By code; a client's own application codes (3000-4999) go under "3xxx" or "4xxx",
    so that no client makes a series per code it invents (4008 is ours)."""
    found: dict[tuple[str, ...], float] = {}
    for code, count in closes.items():
        label = str(code) if code < 3000 or code == CLOSE_SLOW_CONSUMER else f"{code // 1000}xxx"
        found[(label,)] = found.get((label,), 0) + count
    return found


def _engine(runtime: Runtime) -> Reading:
    """Whether the engine answers, and its cluster-wide counts; while it does not, the
    counts keep their last values (a gauge never drops to 0 for an outage)."""
    engine = runtime.state.engine
    try:
        up = bool(engine.health().get("ok"))
        if not up:
            return {"engine_up": {(): 0}}
        counters = engine.counters()
        reading: Reading = {
            "engine_up": {(): 1},
            "users": {(): counters.get("users", 0)},
            "channels": {(): counters.get("channels", 0)},
        }
        if runtime.webhooks is not None:
            reading["webhook_pending"] = {(): engine.outbox_state().pending}
        return reading
    except Exception as exc:  # any engine's failure: the scrape still answers
        log.debug("metrics: engine figures unavailable: %s", exc)
        return {"engine_up": {(): 0}}
