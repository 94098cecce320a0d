"""The Redis engine's presence store: users, connections and channels (the key layout is in
the package's docstring).

Where the merge rules live in Python and must match the memory engine exactly, Python
computes and Redis applies: user state with WATCH/MULTI on the user's own key; channel
configs as a compare-and-set on the ``cfg`` field (a channel's publishes touch its other
keys all the time and never make it retry). Everything else is one script per call.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import redis

from channelstream import jsonenc
from channelstream.engine.base import ChannelSnapshot, JoinResult, LeaveResult
from channelstream.engine.redis.bus import BACKOFF_MAX, Bus
from channelstream.engine.redis.client import RedisErrors
from channelstream.engine.redis.codec import chunks, new_epoch, position_of, position_text, text
from channelstream.engine.redis.outbox import RedisOutbox
from channelstream.errors import Unavailable
from channelstream.model.channel import ChannelConfig
from channelstream.model.connection import Connection, Position
from channelstream.model.user import StateValue, User

log = logging.getLogger("channelstream.engine.redis")

# How long a GC pass holds the connections it was handed.
CLAIM_LEASE = 5.0
# Idle connections looked at per GC pass.
COLLECT_LIMIT = 1000


class RedisPresence(RedisOutbox):
    bus: Bus
    node_ttl: float

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
        names = [text(name) for name in self.redis.zrange(self.prefix + "users", 0, -1)]
        return self._users(names, strict=False)

    def get_users(self, usernames: list[str]) -> list[User]:
        """The known users; while the shared state may have lost them (see ``lifeline``),
        not finding one raises ``errors.Unavailable``: a direct message to them must be
        retried, not dropped."""
        return self._users(usernames, strict=True)

    def _users(self, usernames: list[str], *, strict: bool) -> list[User]:
        names = list(usernames)
        users = []
        for chunk in chunks(names, 500):
            with self.redis.pipeline(transaction=False) as pipe:
                for name in chunk:
                    pipe.hgetall(self._user_key(name))
                    pipe.zscore(self.prefix + "users", name)
                if strict:
                    pipe.exists(self.prefix + "life")
                    pipe.exists(self.prefix + "recovering")
                replies = pipe.execute()
            found = 0
            for index, name in enumerate(chunk):
                record, seen = replies[2 * index], replies[2 * index + 1]
                if record:
                    found += 1
                    users.append(self._user_from(name, record, seen))
            if strict and found < len(chunk) and (not replies[-2] or replies[-1]):
                raise Unavailable("the shared state lost its data; retry")
        return users

    def user_states(
        self, usernames: list[str], *, public: bool
    ) -> list[tuple[str, dict[str, StateValue]]]:
        return [
            (user.username, user.public_state if public else user.state)
            for user in self._users(usernames, strict=False)
        ]

    def collect_users(self, idle_before: float) -> list[str]:
        return [text(name) for name in self._run("COLLECT_USERS", repr(idle_before))]

    # -- connections -----------------------------------------------------------------
    def _connection(self, conn_id: str, snap: Any) -> Connection | None:
        if not snap:
            return None
        user, seen, disc, _node, channels, flat = snap
        positions: dict[str | None, Position] = {}
        for index in range(0, len(flat), 2):
            field = text(flat[index])
            key = None if field == "d" else field[2:]
            positions[key] = position_of(flat[index + 1])
        return Connection(
            conn_id,
            text(user),
            {text(name) for name in channels},
            float(seen),
            text(disc) == "1",
            positions,
        )

    def add_connection(
        self, conn_id: str, username: str, now: float, *, max_per_user: int = 0
    ) -> Connection | None:
        snap = self._run(
            "ADD_CONNECTION",
            conn_id,
            username,
            repr(now),
            self.node_id,
            new_epoch(),
            max_per_user,
            *self._recording(now),
        )
        if isinstance(snap, int):
            return None  # the user holds max_per_user connections already
        conn = self._connection(conn_id, snap)
        assert conn is not None
        return conn

    def get_connection(self, conn_id: str) -> Connection | None:
        return self._connection(conn_id, self._run("GET_CONNECTION", conn_id))

    def get_connections(self, conn_ids: list[str]) -> list[Connection]:
        found: list[Connection] = []
        for chunk in chunks(conn_ids, 500):
            reply = self._run("GET_CONNECTIONS", *chunk)
            for index in range(0, len(reply), 2):
                conn = self._connection(text(reply[index]), reply[index + 1])
                if conn is not None:
                    found.append(conn)
        return found

    def list_connections(self) -> list[Connection]:
        ids = [text(conn_id) for conn_id in self.redis.zrange(self.prefix + "conns", 0, -1)]
        return self.get_connections(ids)

    def touch_connection(self, conn_id: str, now: float) -> None:
        self.touch_connections([conn_id], now)

    def touch_connections(self, conn_ids: list[str], now: float) -> None:
        # Best-effort: activity must never fail a live socket while Redis is away.
        try:
            for chunk in chunks(conn_ids, 1000):
                self._run("TOUCH", repr(now), self.node_id, *chunk)
        except RedisErrors as exc:
            log.debug("touch skipped, redis unavailable: %s", exc)

    def user_channels(self, username: str) -> list[str]:
        return sorted(text(name) for name in self._run("USER_CHANNELS", username))

    def mark_disconnected(self, conn_id: str) -> bool:
        return bool(self._run("MARK_DISCONNECTED", conn_id))

    def save_positions(self, conn_id: str, positions: dict[str | None, Position]) -> None:
        args: list[Any] = []
        for key, position in positions.items():
            args.append("d" if key is None else "c:" + key)
            args.append(position_text(position))
        if not args:
            return
        try:
            self._run("SAVE_POSITIONS", conn_id, *args)
        except RedisErrors as exc:
            # The next attach then replays from older positions: duplicates, never a loss.
            log.warning("positions of %s not saved, redis unavailable: %s", conn_id, exc)

    def collectable_connections(self, idle_before: float) -> list[str]:
        if not self.bus.subscribed:
            # Cut off from the bus (Redis away, or back while our subscriber still waits to
            # reconnect): other nodes' heartbeats and touches may have lapsed meanwhile.
            return []
        grace = self.node_ttl / 3 + 2 * BACKOFF_MAX
        if self.bus.resumed_at is not None and time.monotonic() - self.bus.resumed_at < grace:
            # Just back from an outage: give every node the time to touch its sockets again.
            return []
        found = self._run("COLLECTABLE", repr(idle_before), CLAIM_LEASE, COLLECT_LIMIT)
        return [text(conn_id) for conn_id in found]

    def remove_connection(self, conn_id: str, now: float) -> Connection | None:
        return self._connection(
            conn_id, self._run("REMOVE_CONNECTION", conn_id, *self._recording(now))
        )

    def retire_connection(
        self, conn_id: str, stand_in: str, last_active: float
    ) -> Connection | None:
        reply = self._run("RETIRE_CONNECTION", conn_id, stand_in, repr(last_active))
        return self._connection(conn_id, reply)

    # -- channels --------------------------------------------------------------------
    @staticmethod
    def _config_fields(config: ChannelConfig) -> dict[str, Any]:
        return {
            "cfg": jsonenc.dumps(config.as_dict()),
            "sf": int(config.store_frames),
            "sh": int(config.store_history),
            "hs": config.history_size,
            # Presence channels are listed, so that nodes can follow their members.
            "np": int(config.notify_presence),
        }

    def ensure_channel(
        self, name: str, config: dict[str, Any] | None, now: float
    ) -> tuple[ChannelConfig, bool]:
        capped = ChannelConfig().updated(config).capped(self.settings.max_history_size)
        wanted = self._config_fields(capped)
        stored, created = self._run(
            "ENSURE_CHANNEL",
            name,
            wanted["cfg"],
            wanted["sf"],
            wanted["sh"],
            wanted["hs"],
            repr(now),
            str(uuid.uuid4()),
            new_epoch(),
            wanted["np"],
        )
        return ChannelConfig(**jsonenc.loads(stored)), bool(created)

    def configure_channel(self, name: str, changes: dict[str, Any], now: float) -> ChannelConfig:
        config, created = self.ensure_channel(name, changes, now)
        if created:
            return config
        key = f"{self.prefix}c:{name}"
        while True:
            stored = self.redis.hget(key, "cfg")
            if stored is None:
                return config  # collected meanwhile
            updated = (
                ChannelConfig(**jsonenc.loads(stored))
                .updated(changes)
                .capped(self.settings.max_history_size)
            )
            fields = self._config_fields(updated)
            done = self._run(
                "SET_CONFIG",
                name,
                stored,
                fields["cfg"],
                fields["sf"],
                fields["sh"],
                fields["hs"],
                fields["np"],
            )
            if done == 1:
                return updated
            if done == -1:
                return config

    def channel_config(self, name: str) -> ChannelConfig | None:
        stored = self.redis.hget(f"{self.prefix}c:{name}", "cfg")
        return ChannelConfig(**jsonenc.loads(stored)) if stored is not None else None

    def channel_names(self) -> list[str]:
        return [text(name) for name in self.redis.zrange(self.prefix + "channels", 0, -1)]

    def channel_positions(self, names: list[str]) -> dict[str, Position]:
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(f"{self.prefix}c:{name}", "epoch", "off")
            found = pipe.execute()
        return {
            name: (text(epoch), int(offset))
            for name, (epoch, offset) in zip(names, found, strict=True)
            if offset is not None
        }

    def channel_snapshot(
        self, name: str, *, include_history: bool, include_users: bool
    ) -> ChannelSnapshot | None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(f"{self.prefix}c:{name}")
            pipe.hkeys(f"{self.prefix}cu:{name}")
            pipe.hlen(f"{self.prefix}cm:{name}")
            pipe.lrange(f"{self.prefix}ch:{name}", 0, -1)
            pipe.zscore(self.prefix + "channels", name)
            record, user_names, total_connections, history, last_active = pipe.execute()
        if not record:
            return None
        return ChannelSnapshot(
            name=name,
            uuid=text(record[b"uuid"]),
            config=ChannelConfig(**jsonenc.loads(record[b"cfg"])),
            last_active=float(last_active or record[b"created"]),
            total_connections=int(total_connections),
            users=sorted(text(user) for user in user_names) if include_users else [],
            history=[jsonenc.loads(item) for item in history] if include_history else [],
            position=(text(record[b"epoch"]), int(record[b"off"])),
        )

    def channel_users(self, name: str) -> list[str]:
        return sorted(text(user) for user in self.redis.hkeys(f"{self.prefix}cu:{name}"))

    def join_channel(self, name: str, conn_id: str, username: str, now: float) -> JoinResult:
        try:
            joined, first, epoch, offset = self._run(
                "JOIN", name, conn_id, username, repr(now), *self._recording(now)
            )
        except redis.exceptions.ResponseError as exc:
            if "unknown channel" in str(exc):
                raise KeyError(name) from None
            raise
        return JoinResult(
            joined=bool(joined), first_for_user=bool(first), position=(text(epoch), int(offset))
        )

    def leave_channel(self, name: str, conn_id: str, username: str, now: float) -> LeaveResult:
        left, last = self._run("LEAVE", name, conn_id, username, repr(now), *self._recording(now))
        return LeaveResult(left=bool(left), last_for_user=bool(last))

    def collect_channels(self, idle_before: float) -> list[str]:
        return [text(name) for name in self._run("COLLECT_CHANNELS", repr(idle_before))]
