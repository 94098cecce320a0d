"""The Redis engine: several channelstream processes share one truth and act as one server.

What lives in Redis (every key starts with the prefix, ``{channelstream}:`` by default; the
braces are a hash tag, so on a Redis Cluster every key lands in one slot):

==================  ===============================================================
``users``           zset: username -> last activity
``u:<user>``        hash: ``state`` (JSON), ``keys`` (JSON list of public keys)
``uc:<user>``       set: the user's conn_ids
``conns``           zset: conn_id -> last activity
``disc``            set: conn_ids marked by /disconnect
``claims``          hash: conn_id -> until when a node's GC pass holds it
``k:<conn>``        hash: ``user``, ``disc``, ``node`` (the node its socket is on)
``kc:<conn>``       set: its channels
``kp:<conn>``       hash: what it was last sent, ``c:<channel>`` / ``d`` -> [epoch, offset]
``channels``        zset: name -> last activity
``c:<name>``        hash: ``cfg`` (JSON), ``sf``/``sh``/``hs`` (store_frames, store_history,
                    history_size, for the scripts), ``uuid``, ``created``, ``epoch``, ``off``
                    (the latest offset), ``floor`` (the newest offset that left the window)
``cm:<name>``       hash: conn_id -> username (members)
``cu:<name>``       hash: username -> connections in the channel (presence is per user)
``ch:<name>``       list: history (payload JSON)
``cl:<name>``       zset: catch-up window, score = offset, member = rules JSON + LF + payload
``d:<user>``        hash: the user's direct stream: ``epoch``, ``off``, ``floor``
``dl:<user>``       zset: the direct stream's window
``nodes``           set: node ids; ``n:<node>`` its heartbeat key (TTL ``node_ttl``);
                    ``nc:<node>`` the conn_ids whose socket it holds
``counters``        hash: ``total_unique_messages``
``bus:<db>``        the pub/sub channel every envelope travels on (named after the database:
                    pub/sub is shared by all databases of a server)
==================  ===============================================================

Atomicity: every write that the contract calls atomic is one Lua script (see
``redis_scripts``). Where the merge rules live in Python and must match the memory engine
exactly, Python computes and a script applies: user state with WATCH/MULTI on the user's own
key; channel configs as a compare-and-set on the ``cfg`` field, and edits and deletes as
replacements of exact items, so that a channel's publishes (which touch its other keys all
the time) never make them retry.

Fan-out: Redis pub/sub, one channel for everything. ``publish`` assigns the offset, keeps
the event and PUBLISHes it inside one script, so every node receives every stream in offset
order, and control envelopes (subscribed, unsubscribed, disconnected) in the same total
order. Measured on this machine (2 cores shared by Redis 7.0, the publisher and three
subscriber processes; redis-py 8.1 with hiredis; the publish script with a 200-byte payload,
pipelined): with PUBLISH the script cost 7-8.5 us per call in Redis and the three subscribers
each received 22-24k events/s; with XADD (MAXLEN ~) to one stream read by every node with
XREAD BLOCK COUNT 500, the script cost 10.6-11 us and each subscriber received 10-11k
events/s. Unloaded, both delivered in about 0.2 ms. Pub/sub forgets what a disconnected
subscriber missed, but we keep every event in the catch-up window anyway: after any
(re)subscription each node re-syncs its local connections from the window by offset, and a
connection whose window no longer reaches back gets a ``gap`` notice, never a silent hole.
A stream would not remove that need (a Redis restart without persistence loses it too).

Nodes: each node has an id and a heartbeat key with a TTL of ``node_ttl`` seconds (default
10; the setting ``channelstream.node_ttl``). Activity of a connection attached here records
this node as its holder. The GC pass of any node collects connections whose holder's key
expired, so a node killed with -9 loses its connections' presence within about
``node_ttl + gc_conns_interval`` seconds, and ``parted`` is sent once (leaving a channel is
atomic; passes claim connections briefly so nodes do not repeat each other's work).

Redis failure: calls raise ``redis.exceptions.ConnectionError`` quickly (API calls fail with
an error rather than hang); touches are best-effort so local sockets stay open; ``health()``
answers ok False until the subscriber is back; the subscriber reconnects with backoff and
re-syncs; GC of idle connections waits a grace period after an outage so that no node
collects connections whose holders have not had the chance to touch them again.

Threads: the subscriber and the heartbeat run in ``threading`` threads, which are greenlets
in the monkey-patched server process (cooperative sockets) and real threads elsewhere
(tests, embedding without gevent); under ``pserve --reload``, where the runner patches only
after the application is built, they are gevent greenlets from the start. Commands use one
connection pool; the subscriber has its own single connection, with no hidden retries, so
that every reconnection is seen and followed by a re-sync.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from channelstream import jsonenc
from channelstream.engine import redis_scripts as scripts
from channelstream.engine.base import (
    Deliver,
    Disconnected,
    Engine,
    Envelope,
    JoinResult,
    LeaveResult,
    Replay,
    Stream,
    Subscribed,
    Unsubscribed,
    message_edits,
)
from channelstream.model.channel import ChannelConfig
from channelstream.model.connection import Connection, Position
from channelstream.model.event import Event
from channelstream.model.user import StateValue, User
from channelstream.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "{channelstream}:"
DEFAULT_NODE_TTL = 10.0
# How long a GC pass holds the connections it was handed.
CLAIM_LEASE = 5.0
# Idle connections looked at per GC pass.
COLLECT_LIMIT = 1000
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 2.0
# The listener looks at its stop and hold flags this often when the bus is idle.
LISTEN_TICK = 0.25

RedisErrors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def node_ttl_of(settings: Settings) -> float:
    """``channelstream.node_ttl`` (10 for settings objects made before it existed)."""
    ttl = float(getattr(settings, "node_ttl", DEFAULT_NODE_TTL))
    if ttl <= 0:
        raise ValueError("node_ttl must be greater than 0")
    return ttl


def make_client(url: str, **options: Any) -> redis.Redis:
    """A client for ``redis://``, ``rediss://`` and ``unix://`` URLs (redis-py's own), or for
    ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`` (and
    ``rediss+sentinel://``): the master of `service` as the sentinels name it, followed
    through failovers. The password is the master's; sentinels without auth are assumed."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme.endswith("+sentinel"):
        return redis.Redis.from_url(url, **options)
    from redis.sentinel import Sentinel

    parts = urllib.parse.urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    sentinels = []
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon or not port.isdigit():
            name, port = host, "26379"
        sentinels.append((name.strip("[]"), int(port)))
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ValueError("a redis+sentinel URL names the service: .../service[/db]")
    timeouts = {
        key: options[key] for key in ("socket_connect_timeout", "socket_timeout") if key in options
    }
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **timeouts)
    return sentinel.master_for(
        urllib.parse.unquote(path[0]),
        db=int(path[1]) if len(path) > 1 else 0,
        username=urllib.parse.unquote(username) or None,
        password=urllib.parse.unquote(password) or None,
        ssl=scheme.startswith("rediss"),
        **{key: value for key, value in options.items() if key not in timeouts},
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rules(event: Event) -> bytes:
    return jsonenc.dumps(
        {
            "c": event.channel,
            "d": event.direct_to,
            "pm": sorted(event.pm_users),
            "ex": sorted(event.exclude_users),
        }
    )


def decode_entry(entry: bytes) -> Event:
    """An entry of a window (or of the bus, without its leading kind byte): rules LF payload."""
    rules_text, _, body = entry.partition(b"\n")
    return _event_from(jsonenc.loads(rules_text), body)


def _event_from(rules: dict[str, Any], body: bytes) -> Event:
    return Event(
        jsonenc.loads(body),
        channel=rules["c"],
        direct_to=rules["d"],
        pm_users=frozenset(rules["pm"]),
        exclude_users=frozenset(rules["ex"]),
        body=body,
    )


def encode_entry(event: Event) -> bytes:
    return _rules(event) + b"\n" + jsonenc.dumps(event.payload)


def _position_text(position: Position) -> bytes:
    return jsonenc.dumps([position[0], position[1]])


def _position_of(text: bytes) -> Position:
    epoch, offset = jsonenc.loads(text)
    return (str(epoch), int(offset))


def _stream_args(stream: Stream) -> tuple[str, str]:
    kind, name = stream
    return ("c" if kind == "channel" else "d", name)


def _envelope_wire(envelope: Envelope) -> bytes:
    if isinstance(envelope, Event):
        return b"E" + encode_entry(envelope)
    if isinstance(envelope, Subscribed):
        body: dict[str, Any] = {
            "t": "sub",
            "c": envelope.conn_id,
            "p": {name: list(pos) for name, pos in envelope.positions.items()},
        }
    elif isinstance(envelope, Unsubscribed):
        body = {"t": "unsub", "c": envelope.conn_id, "ch": list(envelope.channels)}
    else:
        body = {"t": "disc", "c": envelope.conn_id}
    return b"C" + jsonenc.dumps(body)


def decode_envelope(data: bytes) -> Envelope:
    if data[:1] == b"E":
        return decode_entry(data[1:])
    body = jsonenc.loads(data[1:])
    kind = body["t"]
    if kind == "sub":
        return Subscribed(body["c"], {name: (pos[0], pos[1]) for name, pos in body["p"].items()})
    if kind == "unsub":
        return Unsubscribed(body["c"], tuple(body["ch"]))
    return Disconnected(body["c"])


class RedisEngine(Engine):
    def __init__(
        self,
        settings: Settings,
        *,
        prefix: str = DEFAULT_PREFIX,
        node_id: str | None = None,
        node_ttl: float | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex[:16]
        self.node_ttl = node_ttl or node_ttl_of(settings)
        self.redis = client or make_client(
            settings.redis_url,
            socket_connect_timeout=2,
            socket_timeout=5,
            # One quick second try: a pooled connection may be stale after a Redis restart.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.exceptions.ConnectionError],
        )
        # Pub/sub channels are shared by every database of a Redis server: the bus is named
        # after the database, so that deployments in different databases stay apart.
        db = self.redis.connection_pool.connection_kwargs.get("db", 0)
        self._key = f"{prefix}bus:{db}"  # KEYS[1] of every script; the publish script's channel
        self._bus = self._key.encode()
        self._scripts = {
            name: self.redis.register_script(getattr(scripts, name))
            for name in (
                "ENSURE_CHANNEL",
                "JOIN",
                "LEAVE",
                "COLLECT_CHANNELS",
                "PUBLISH",
                "REPLAY",
                "ADD_CONNECTION",
                "GET_CONNECTION",
                "GET_CONNECTIONS",
                "TOUCH",
                "MARK_DISCONNECTED",
                "SAVE_POSITIONS",
                "COLLECTABLE",
                "REMOVE_CONNECTION",
                "COLLECT_USERS",
                "NODE_HEARTBEAT",
                "USER_CHANNELS",
                "SET_CONFIG",
                "REWRITE",
            )
        }
        self._deliver: Deliver | None = None
        self._guard: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        self._resync: Callable[[], None] | None = None
        self._on_subscribed: Callable[[Subscribed], None] | None = None
        self._listened: Callable[[str], int] | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._greenlets: list[Any] = []
        self._pubsub: Any = None
        self.subscribed = False
        self.outages = 0
        self._last_error = ""
        # Since when (wall clock) the bus has been up; the heartbeat key's value, for operators.
        self._since_wall = time.time()
        self._resumed_at: float | None = None
        # Tests hold the subscriber away from Redis with this (see `interrupt_bus`).
        self._hold = threading.Event()
        self._hold.set()

    # -- scripts ---------------------------------------------------------------------
    def _run(self, name: str, *args: Any) -> Any:
        return self._scripts[name](keys=[self._key], args=[self.prefix, *args])

    # -- lifecycle -------------------------------------------------------------------
    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        from channelstream.engine import redis_resync

        hub = getattr(deliver, "__self__", None)
        # The bus thread hands envelopes in under the hub's guard (the state lock in a
        # threaded host, nothing under gevent: channelstream.concurrency).
        self._guard = getattr(hub, "guard", None) or contextlib.nullcontext()
        if hub is not None and redis_resync.is_hub(hub):
            self._resync = lambda: redis_resync.resync_hub(hub, self, deliver)
            self._on_subscribed = lambda envelope: redis_resync.after_subscribed(
                hub, self, envelope
            )
            # Every node hears every channel: decode only what has a listener here.
            self._listened = hub.channel_listeners
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
            log.info("redis engine node %s: bus in greenlets (patched later)", self.node_id)
            return
        log.info("redis engine node %s on %s", self.node_id, self._safe_url())
        self._stopping.clear()
        self._start_thread(self._listen, "channelstream-redis-bus")
        self._start_thread(self._heartbeat_loop, "channelstream-redis-heartbeat")
        # A node may start before Redis is up: it serves (health 503) and keeps trying.
        if not self._ready.wait(5):
            log.warning("redis engine started without Redis at %s", self._safe_url())

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
        self._deliver = None
        self.subscribed = False
        self.redis.connection_pool.disconnect()

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "engine": "redis",
            "node": self.node_id,
            "subscribed": self.subscribed,
            "outages": self.outages,
        }
        try:
            self.redis.ping()
            ok = self.subscribed
        except RedisErrors as exc:
            ok = False
            answer["error"] = type(exc).__name__
        if not ok and self._last_error:
            answer.setdefault("error", self._last_error)
        answer["ok"] = ok
        return answer

    def _safe_url(self) -> str:
        url = self.settings.redis_url
        if "@" in url:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://***@{rest.rpartition('@')[2]}"
        return url

    # -- the subscriber --------------------------------------------------------------
    def _listen(self) -> None:
        delay = BACKOFF_FIRST
        first = True
        while not self._stopping.is_set():
            self._hold.wait()
            if self._stopping.is_set():
                break
            client = make_client(
                self.settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=10,
                health_check_interval=5,
                retry=Retry(NoBackoff(), 0),
            )
            pubsub = client.pubsub()
            self._pubsub = pubsub
            try:
                pubsub.subscribe(self._bus)
                while True:
                    confirm = pubsub.get_message(timeout=5)
                    if confirm is not None and confirm["type"] == "subscribe":
                        break
                    if confirm is None:
                        raise redis.exceptions.TimeoutError("no subscribe confirmation")
                if not first:
                    log.warning("redis bus back after an outage; re-syncing local connections")
                self._since_wall = time.time()
                self._heartbeat()
                self.subscribed = True
                self._last_error = ""
                if not first:
                    self._resumed_at = time.monotonic()
                first = False
                delay = BACKOFF_FIRST
                if self._resync is not None:
                    with self._guard:
                        self._resync()
                self._ready.set()
                while not self._stopping.is_set() and self._hold.is_set():
                    message = pubsub.get_message(timeout=LISTEN_TICK)
                    if message is not None and message["type"] == "message":
                        self._handle(message["data"])
            except RedisErrors as exc:
                if self._stopping.is_set():
                    break
                if self.subscribed:
                    self.outages += 1
                    log.warning("redis bus lost (%s); reconnecting", exc)
                self._last_error = f"{type(exc).__name__}: {exc}"
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
                if not self._hold.is_set() and self.subscribed:
                    self.outages += 1
                    self.subscribed = False
                try:
                    pubsub.close()
                    client.close()
                except Exception:
                    pass
                self._pubsub = None
        self.subscribed = False

    def _handle(self, data: bytes) -> None:
        deliver = self._deliver
        if deliver is None:
            return
        try:
            if data[:1] == b"E":
                # The rules first: a node skips what none of its sockets listens to before
                # it decodes the payload.
                rules_text, _, body = data[1:].partition(b"\n")
                rules = jsonenc.loads(rules_text)
                listened, channel = self._listened, rules["c"]
                if listened is not None and channel is not None and not listened(channel):
                    return
                envelope: Envelope = _event_from(rules, body)
            else:
                envelope = decode_envelope(data)
        except (ValueError, KeyError, TypeError):
            log.exception("undecodable envelope on the redis bus")
            return
        try:
            with self._guard:
                deliver(envelope)
                if isinstance(envelope, Subscribed) and self._on_subscribed is not None:
                    self._on_subscribed(envelope)
        except RedisErrors:
            raise
        except Exception:
            log.exception("delivering %r failed", envelope)

    def interrupt_bus(self) -> None:
        """Tests: drop the subscriber's connection and keep it away until `resume_bus`."""
        self._hold.clear()
        deadline = time.monotonic() + 5
        while self.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)

    def resume_bus(self, timeout: float = 5) -> None:
        self._hold.set()
        deadline = time.monotonic() + timeout
        while not self.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- the node's heartbeat --------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.node_ttl / 3):
            try:
                self._heartbeat()
            except RedisErrors as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
            except Exception:
                log.exception("redis node heartbeat failed")

    def _heartbeat(self) -> None:
        self._run(
            "NODE_HEARTBEAT", self.node_id, repr(self._since_wall), max(1, round(self.node_ttl))
        )

    # -- users -----------------------------------------------------------------------
    def _user_key(self, username: str) -> str:
        return f"{self.prefix}u:{username}"

    def upsert_user(
        self,
        username: str,
        *,
        now: float,
        fresh_state: dict[str, StateValue] | None = None,
        changes: dict[str, StateValue] | None = None,
        public_keys: list[str] | None = None,
        create: bool = True,
    ) -> tuple[User, list[dict[str, Any]]] | None:
        key = self._user_key(username)
        result: list[tuple[User, list[dict[str, Any]]] | None] = [None]

        def change(pipe: Any) -> None:
            record = pipe.hgetall(key)
            if not record:
                if not create:
                    result[0] = None
                    return
                user = User(username, dict(fresh_state or {}))
            else:
                user = User(
                    username,
                    jsonenc.loads(record[b"state"]),
                    jsonenc.loads(record[b"keys"]),
                )
            if public_keys is not None:
                user.public_keys = list(public_keys)
            changed = user.merge_state(changes or {})
            user.last_active = now
            pipe.multi()
            pipe.hset(
                key,
                mapping={
                    "state": jsonenc.dumps(user.state),
                    "keys": jsonenc.dumps(user.public_keys),
                },
            )
            pipe.zadd(self.prefix + "users", {username: now})
            result[0] = (user, changed)

        self.redis.transaction(change, key)
        return result[0]

    def _user_from(self, username: str, record: dict[bytes, bytes], seen: Any) -> User:
        return User(
            username,
            jsonenc.loads(record[b"state"]),
            jsonenc.loads(record[b"keys"]),
            float(seen or 0),
        )

    def get_user(self, username: str) -> User | None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._user_key(username))
            pipe.zscore(self.prefix + "users", username)
            record, seen = pipe.execute()
        return self._user_from(username, record, seen) if record else None

    def list_users(self) -> list[User]:
        names = [_text(name) for name in self.redis.zrange(self.prefix + "users", 0, -1)]
        return self.get_users(names)

    def get_users(self, usernames: list[str]) -> list[User]:
        names = list(usernames)
        users = []
        for chunk in _chunks(names, 500):
            with self.redis.pipeline(transaction=False) as pipe:
                for name in chunk:
                    pipe.hgetall(self._user_key(name))
                    pipe.zscore(self.prefix + "users", name)
                replies = pipe.execute()
            for index, name in enumerate(chunk):
                record, seen = replies[2 * index], replies[2 * index + 1]
                if record:
                    users.append(self._user_from(name, record, seen))
        return users

    def collect_users(self, idle_before: float) -> list[str]:
        return [_text(name) for name in self._run("COLLECT_USERS", repr(idle_before))]

    # -- connections -----------------------------------------------------------------
    def _connection(self, conn_id: str, snap: Any) -> Connection | None:
        if not snap:
            return None
        user, seen, disc, _node, channels, flat = snap
        positions: dict[str | None, Position] = {}
        for index in range(0, len(flat), 2):
            field = _text(flat[index])
            key = None if field == "d" else field[2:]
            positions[key] = _position_of(flat[index + 1])
        return Connection(
            conn_id,
            _text(user),
            {_text(name) for name in channels},
            float(seen),
            _text(disc) == "1",
            positions,
        )

    def add_connection(self, conn_id: str, username: str, now: float) -> Connection:
        snap = self._run("ADD_CONNECTION", conn_id, username, repr(now), self.node_id, _new_epoch())
        conn = self._connection(conn_id, snap)
        assert conn is not None
        return conn

    def get_connection(self, conn_id: str) -> Connection | None:
        return self._connection(conn_id, self._run("GET_CONNECTION", conn_id))

    def get_connections(self, conn_ids: list[str]) -> list[Connection]:
        found: list[Connection] = []
        for chunk in _chunks(conn_ids, 500):
            reply = self._run("GET_CONNECTIONS", *chunk)
            for index in range(0, len(reply), 2):
                conn = self._connection(_text(reply[index]), reply[index + 1])
                if conn is not None:
                    found.append(conn)
        return found

    def list_connections(self) -> list[Connection]:
        ids = [_text(conn_id) for conn_id in self.redis.zrange(self.prefix + "conns", 0, -1)]
        return self.get_connections(ids)

    def touch_connection(self, conn_id: str, now: float) -> None:
        self.touch_connections([conn_id], now)

    def touch_connections(self, conn_ids: list[str], now: float) -> None:
        # Best-effort: activity must never fail a live socket while Redis is away.
        try:
            for chunk in _chunks(conn_ids, 1000):
                self._run("TOUCH", repr(now), self.node_id, *chunk)
        except RedisErrors as exc:
            log.debug("touch skipped, redis unavailable: %s", exc)

    def user_channels(self, username: str) -> list[str]:
        return sorted(_text(name) for name in self._run("USER_CHANNELS", username))

    def mark_disconnected(self, conn_id: str) -> bool:
        return bool(self._run("MARK_DISCONNECTED", conn_id))

    def save_positions(self, conn_id: str, positions: dict[str | None, Position]) -> None:
        args: list[Any] = []
        for key, position in positions.items():
            args.append("d" if key is None else "c:" + key)
            args.append(_position_text(position))
        if not args:
            return
        try:
            self._run("SAVE_POSITIONS", conn_id, *args)
        except RedisErrors as exc:
            # The next attach then replays from older positions: duplicates, never a loss.
            log.warning("positions of %s not saved, redis unavailable: %s", conn_id, exc)

    def collectable_connections(self, idle_before: float) -> list[str]:
        if not self.subscribed:
            # Cut off from the bus (Redis away, or back while our subscriber still waits to
            # reconnect): other nodes' heartbeats and touches may have lapsed meanwhile.
            return []
        grace = self.node_ttl / 3 + 2 * BACKOFF_MAX
        if self._resumed_at is not None and time.monotonic() - self._resumed_at < grace:
            # Just back from an outage: give every node the time to touch its sockets again.
            return []
        found = self._run("COLLECTABLE", repr(idle_before), CLAIM_LEASE, COLLECT_LIMIT)
        return [_text(conn_id) for conn_id in found]

    def remove_connection(self, conn_id: str) -> Connection | None:
        return self._connection(conn_id, self._run("REMOVE_CONNECTION", conn_id))

    # -- channels --------------------------------------------------------------------
    @staticmethod
    def _config_fields(config: ChannelConfig) -> dict[str, Any]:
        return {
            "cfg": jsonenc.dumps(config.as_dict()),
            "sf": int(config.store_frames),
            "sh": int(config.store_history),
            "hs": config.history_size,
        }

    def ensure_channel(
        self, name: str, config: dict[str, Any] | None, now: float
    ) -> tuple[ChannelConfig, bool]:
        capped = ChannelConfig().updated(config).capped(self.settings.max_history_size)
        wanted = self._config_fields(capped)
        text, created = self._run(
            "ENSURE_CHANNEL",
            name,
            wanted["cfg"],
            wanted["sf"],
            wanted["sh"],
            wanted["hs"],
            repr(now),
            str(uuid.uuid4()),
            _new_epoch(),
        )
        return ChannelConfig(**jsonenc.loads(text)), bool(created)

    def configure_channel(self, name: str, changes: dict[str, Any], now: float) -> ChannelConfig:
        config, created = self.ensure_channel(name, changes, now)
        if created:
            return config
        key = f"{self.prefix}c:{name}"
        while True:
            text = self.redis.hget(key, "cfg")
            if text is None:
                return config  # collected meanwhile
            updated = (
                ChannelConfig(**jsonenc.loads(text))
                .updated(changes)
                .capped(self.settings.max_history_size)
            )
            fields = self._config_fields(updated)
            done = self._run(
                "SET_CONFIG", name, text, fields["cfg"], fields["sf"], fields["sh"], fields["hs"]
            )
            if done == 1:
                return updated
            if done == -1:
                return config

    def channel_config(self, name: str) -> ChannelConfig | None:
        text = self.redis.hget(f"{self.prefix}c:{name}", "cfg")
        return ChannelConfig(**jsonenc.loads(text)) if text is not None else None

    def channel_names(self) -> list[str]:
        return [_text(name) for name in self.redis.zrange(self.prefix + "channels", 0, -1)]

    def channel_info(
        self, name: str, *, include_history: bool, include_users: bool
    ) -> dict[str, Any] | None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(f"{self.prefix}c:{name}")
            pipe.hkeys(f"{self.prefix}cu:{name}")
            pipe.hlen(f"{self.prefix}cm:{name}")
            pipe.lrange(f"{self.prefix}ch:{name}", 0, -1)
            pipe.zscore(self.prefix + "channels", name)
            record, user_names, total_connections, history, last_active = pipe.execute()
        if not record:
            return None
        users = sorted(_text(user) for user in user_names) if include_users else []
        return {
            "uuid": _text(record[b"uuid"]),
            "name": name,
            "long_name": None,  # 0.7.1 never set it
            "settings": jsonenc.loads(record[b"cfg"]),
            "history": [jsonenc.loads(item) for item in history] if include_history else [],
            "last_active": jsonenc.utc_now_iso(float(last_active or record[b"created"])),
            "total_connections": int(total_connections),
            "total_users": len(users),
            "users": users,
            "epoch": _text(record[b"epoch"]),
            "offset": int(record[b"off"]),
        }

    def channel_users(self, name: str) -> list[str]:
        return sorted(_text(user) for user in self.redis.hkeys(f"{self.prefix}cu:{name}"))

    def join_channel(self, name: str, conn_id: str, username: str, now: float) -> JoinResult:
        try:
            joined, first, epoch, offset = self._run("JOIN", name, conn_id, username, repr(now))
        except redis.exceptions.ResponseError as exc:
            if "unknown channel" in str(exc):
                raise KeyError(name) from None
            raise
        return JoinResult(
            joined=bool(joined), first_for_user=bool(first), position=(_text(epoch), int(offset))
        )

    def leave_channel(self, name: str, conn_id: str, username: str, now: float) -> LeaveResult:
        left, last = self._run("LEAVE", name, conn_id, username, repr(now))
        return LeaveResult(left=bool(left), last_for_user=bool(last))

    def collect_channels(self, idle_before: float) -> list[str]:
        return [_text(name) for name in self._run("COLLECT_CHANNELS", repr(idle_before))]

    # -- streams ---------------------------------------------------------------------
    def publish(self, event: Event, *, now: float, history: bool = False) -> Event | None:
        return self.publish_many([(event, history)], now=now)[0]

    def publish_many(self, items: list[tuple[Event, bool]], *, now: float) -> list[Event | None]:
        """Every event's script in one pipeline: one round trip for a whole batch, each
        event still stamped, kept and fanned out atomically, in the given order."""
        prepared: list[tuple[Event, list[Any]]] = []
        at = repr(now)
        for event, history in items:
            if event.channel is not None:
                kind, name, epoch = "c", event.channel, ""
            else:
                assert event.direct_to is not None
                # A direct stream comes to life on first use, with this epoch.
                kind, name, epoch = "d", event.direct_to, _new_epoch()
            payload = event.payload
            payload.pop("offset", None)
            payload.pop("epoch", None)
            args: list[Any] = [
                self.prefix,
                kind,
                name,
                _rules(event),
                jsonenc.dumps(payload),
                at,
                int(event.type == "message"),
                int(bool(history)),
                self.settings.catchup_size,
                epoch,
            ]
            prepared.append((event, args))
        script = self._scripts["PUBLISH"]
        if len(prepared) == 1:
            replies = [script(keys=[self._key], args=prepared[0][1])]
        else:
            with self.redis.pipeline(transaction=False) as pipe:
                for _, args in prepared:
                    script(keys=[self._key], args=args, client=pipe)
                replies = pipe.execute()
        stamped: list[Event | None] = []
        for (event, _), reply in zip(prepared, replies, strict=True):
            if reply is None:
                stamped.append(None)
                continue
            event.stamp(_text(reply[1]), int(reply[0]))
            stamped.append(event)
        return stamped

    def broadcast(self, envelope: Envelope) -> None:
        self.redis.publish(self._bus, _envelope_wire(envelope))

    def _stream_keys(self, stream: Stream) -> tuple[str, str | None]:
        kind, name = stream
        if kind == "channel":
            return f"{self.prefix}cl:{name}", f"{self.prefix}ch:{name}"
        return f"{self.prefix}dl:{name}", None

    def _rewrite(
        self,
        stream: Stream,
        uuid_: str,
        change_log: Callable[[dict[str, Any]], dict[str, Any] | None],
        change_item: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> bool:
        """Change the first kept `message` with this uuid in the window, and the history
        items with this uuid, in place and in one atomic step (no retry under traffic)."""
        log_key, history_key = self._stream_keys(stream)
        needle = uuid_.encode()
        args: list[Any] = [log_key, b"", b"", 0, history_key or ""]
        entries: list[tuple[bytes, float]] = self.redis.zrange(log_key, 0, -1, withscores=True)  # type: ignore[assignment]
        for member, score in entries:
            if needle not in member:
                continue
            event = decode_entry(member)
            if event.uuid != uuid_ or event.type != "message":
                continue
            replacement = change_log(event.payload)
            new_member = (
                b"" if replacement is None else encode_entry(event.with_payload(replacement))
            )
            args[1:4] = [member, new_member, score]
            break
        if history_key:
            items: list[bytes] = self.redis.lrange(history_key, 0, -1)  # type: ignore[assignment]
            for item in items:
                if needle not in item:
                    continue
                changed = change_item(jsonenc.loads(item))
                if changed is not None:
                    args += [item, b"" if not changed else jsonenc.dumps(changed)]
        if not args[1] and len(args) == 5:
            return False
        return bool(self._run("REWRITE", *args))

    def edit_message(self, stream: Stream, uuid: str, changes: dict[str, Any]) -> bool:
        edits = message_edits(changes)

        def item(value: dict[str, Any]) -> dict[str, Any] | None:
            return {**value, **edits} if value.get("uuid") == uuid else None

        return self._rewrite(stream, uuid, lambda payload: {**payload, **edits}, item)

    def delete_message(self, stream: Stream, uuid: str) -> bool:
        # An empty dict: remove the item.
        def item(value: dict[str, Any]) -> dict[str, Any] | None:
            return {} if value.get("uuid") == uuid else None

        return self._rewrite(stream, uuid, lambda payload: None, item)

    def replay(self, stream: Stream, after: Position | None) -> Replay:
        kind, name = _stream_args(stream)
        args: list[Any] = [kind, name, _new_epoch()]
        if after is None:
            args += [0, "", 0]
        else:
            args += [1, after[0], after[1]]
        epoch, offset, gap, entries = self._run("REPLAY", *args)
        return Replay(
            events=[decode_entry(entry) for entry in entries],
            position=(_text(epoch), int(offset)),
            gap=_text(gap) or None,
        )

    def position(self, stream: Stream) -> Position:
        return self.replay(stream, None).position

    # -- figures ---------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        total = self.redis.hget(self.prefix + "counters", "total_unique_messages")
        return {"total_unique_messages": int(total or 0)}


def _patched_later() -> bool:
    """Whether this process serves with gevent but is not patched yet (hupper's reloader
    worker: channelstream.server patches when it starts serving)."""
    try:
        import hupper
        from gevent import monkey
    except ImportError:
        return False
    return bool(hupper.is_active()) and not monkey.is_module_patched("threading")


def _new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
