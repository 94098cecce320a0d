"""The Redis engine's subscriber and heartbeat: how one node hears every node.

Every envelope travels on one pub/sub channel (``RedisPart.bus_key``), so each node hears
each stream in offset order and the membership changes in the same total order. Pub/sub
forgets what a disconnected subscriber missed; after every re-subscription the node is told
(``EngineEvents.on_resubscribed``) and re-reads its connections' streams from the catch-up
windows.

The subscriber and the heartbeat run in ``threading`` threads, which are greenlets in the
monkey-patched server process (cooperative sockets) and real threads elsewhere (tests,
embedding without gevent); under ``pserve --reload``, where the runner patches only after
the application is built, they are gevent greenlets from the start. The subscriber has its
own single connection, with no hidden retries, so that every reconnection is seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from channelstream import jsonenc
from channelstream.engine.base import EngineEvents, Envelope
from channelstream.engine.redis.client import RedisErrors, RedisPart, safe_url, subscriber_client
from channelstream.engine.redis.codec import decode_envelope, event_from
from channelstream.engine.redis.lifeline import Lifeline
from channelstream.model.event import Event

log = logging.getLogger("channelstream.engine.redis")

# Reconnection backoff: doubled after every failed attempt, up to BACKOFF_MAX.
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 2.0
# The listener looks at its stop and hold flags this often when the bus is idle.
LISTEN_TICK = 0.25


class Bus:
    def __init__(self, part: RedisPart, node_ttl: float, lifeline: Lifeline) -> None:
        self.part = part
        self.node_ttl = node_ttl
        self.lifeline = lifeline
        # Set by the heartbeat when Redis lost its data under a live subscription: the
        # subscriber reconnects, and the node re-syncs as after any outage.
        self._reconnect = False
        self.subscribed = False
        self.outages = 0
        self.last_error = ""
        # Every failure to reach Redis here (subscribing, listening, the heartbeat), counted
        # for channelstream_engine_errors_total: a reconnect loop counts each attempt.
        self.errors = 0
        # When (monotonic) the bus came back after an outage; None before any outage.
        self.resumed_at: float | None = None
        # Since when (wall clock) the bus has been up: the heartbeat key's value, for operators.
        self.since_wall = time.time()
        self._events: EngineEvents | None = None
        self._stopping: Any = threading.Event()
        self._ready: Any = threading.Event()
        # Tests hold the subscriber away from Redis with this (see `interrupt`).
        self._hold: Any = threading.Event()
        self._hold.set()
        self._threads: list[threading.Thread] = []
        self._greenlets: list[Any] = []

    # -- lifecycle -------------------------------------------------------------------
    def start(self, events: EngineEvents) -> None:
        self._events = events
        url = safe_url(self.part.settings.redis_url)
        if _patched_later():
            # `pserve --reload`: the runner monkey-patches only after the application is
            # built. Threads made now would be real ones, handing envelopes to the hub from
            # outside gevent's loop; greenlets run once the server's loop does, patched.
            import gevent
            import gevent.event

            self._stopping, self._ready = gevent.event.Event(), gevent.event.Event()
            self._hold = gevent.event.Event()
            self._hold.set()
            self._greenlets = [gevent.spawn(self._listen), gevent.spawn(self._heartbeat_loop)]
            log.info("redis engine node %s: bus in greenlets (patched later)", self.part.node_id)
            return
        log.info("redis engine node %s on %s", self.part.node_id, url)
        self._stopping.clear()
        self._start_thread(self._listen, "channelstream-redis-bus")
        self._start_thread(self._heartbeat_loop, "channelstream-redis-heartbeat")
        # A node may start before Redis is up: it serves (health 503) and keeps trying.
        if not self._ready.wait(5):
            log.warning("redis engine started without Redis at %s", url)

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._hold.set()
        # The listener notices within LISTEN_TICK and closes its own connection.
        for thread in self._threads:
            thread.join(3)
        self._threads.clear()
        if self._greenlets:
            import gevent

            gevent.joinall(self._greenlets, timeout=3)
            self._greenlets.clear()
        self._events = None
        self.subscribed = False

    # -- the subscriber --------------------------------------------------------------
    def _listen(self) -> None:
        delay = BACKOFF_FIRST
        first = True
        while not self._stopping.is_set():
            self._hold.wait()
            if self._stopping.is_set():
                break
            client = subscriber_client(self.part.settings.redis_url)
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(self.part.bus_key)
                while True:
                    confirm = pubsub.get_message(timeout=5)
                    if confirm is not None and confirm["type"] == "subscribe":
                        break
                    if confirm is None:
                        raise redis.exceptions.TimeoutError("no subscribe confirmation")
                if not first:
                    log.warning("redis bus back after an outage; re-syncing local connections")
                self.since_wall = time.time()
                self.heartbeat()
                lost = self.lifeline.subscribed()
                self.subscribed = True
                self.last_error = ""
                resumed = not first or lost
                if resumed:
                    self.resumed_at = time.monotonic()
                first = False
                delay = BACKOFF_FIRST
                events = self._events
                if resumed and events is not None:
                    events.on_resubscribed()
                self._ready.set()
                self._reconnect = False
                while not self._stopping.is_set() and self._hold.is_set() and not self._reconnect:
                    message = pubsub.get_message(timeout=LISTEN_TICK)
                    if message is not None and message["type"] == "message":
                        self._handle(message["data"])
            except RedisErrors as exc:
                if self._stopping.is_set():
                    break
                self.errors += 1
                if self.subscribed:
                    self.outages += 1
                    log.warning("redis bus lost (%s); reconnecting", exc)
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.subscribed = False
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            except Exception:
                if self._stopping.is_set():
                    break
                # A bug must not end the node's only subscriber: log it, re-subscribe, re-sync.
                log.exception("redis bus listener failed; re-subscribing")
                self.subscribed = False
                first = False
                time.sleep(delay)
            finally:
                if (not self._hold.is_set() or self._reconnect) and self.subscribed:
                    self.outages += 1
                    self.subscribed = False
                try:
                    pubsub.close()
                    client.close()
                except Exception:
                    pass
        self.subscribed = False

    def _handle(self, data: bytes) -> None:
        events = self._events
        if events is None:
            return
        try:
            if data[:1] == b"E":
                # The rules first: a node skips what none of its sockets listens to before
                # it decodes the payload.
                rules_text, _, body = data[1:].partition(b"\n")
                rules = jsonenc.loads(rules_text)
                channel = rules["c"]
                presence = rules.get("pr")
                if presence is not None:
                    self.lifeline.heard(channel, presence)
                if channel is not None and not events.wants(channel):
                    return
                envelope: Envelope = event_from(rules, body)
            else:
                envelope = decode_envelope(data)
        except (ValueError, KeyError, TypeError):
            log.exception("undecodable envelope on the redis bus")
            return
        try:
            if isinstance(envelope, Event):
                events.on_event(envelope)
            else:
                events.on_control(envelope)
        except RedisErrors:
            raise
        except Exception:
            log.exception("delivering %r failed", envelope)

    # -- test hooks ------------------------------------------------------------------
    def interrupt(self) -> None:
        """Tests: drop the subscriber's connection and keep it away until `resume`."""
        self._hold.clear()
        deadline = time.monotonic() + 5
        while self.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)

    def resume(self, timeout: float = 5) -> None:
        self._hold.set()
        deadline = time.monotonic() + timeout
        while not self.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- the node's heartbeat --------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.node_ttl / 3):
            try:
                self.heartbeat()
                if self.subscribed and self.lifeline.changed():
                    log.warning("redis lost its data under a live subscription; re-subscribing")
                    self._reconnect = True
                self.lifeline.restore_due()
            except RedisErrors as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception:
                log.exception("redis node heartbeat failed")

    def heartbeat(self) -> None:
        """This node's key lives node_ttl seconds: a node that dies loses its connections'
        presence within about that."""
        self.part._run(
            "NODE_HEARTBEAT",
            self.part.node_id,
            repr(self.since_wall),
            max(1, round(self.node_ttl)),
        )


def _patched_later() -> bool:
    """Whether this process serves with gevent but is not patched yet (hupper's reloader
    worker: channelstream.server patches when it starts serving)."""
    try:
        import hupper
        from gevent import monkey
    except ImportError:
        return False
    return bool(hupper.is_active()) and not monkey.is_module_patched("threading")
