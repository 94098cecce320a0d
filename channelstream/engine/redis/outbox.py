"""The Redis engine's outbox: the presence transitions of the whole cluster, in one place.

The scripts that decide a transition (``JOIN``, ``LEAVE``, ``ADD_CONNECTION``,
``REMOVE_CONNECTION``) record it in the same atomic step (``scripts.outbox.RECORD``), so
each transition is recorded once, whichever node learns it, in the order Redis applied the
changes, and a node that dies right after a change has recorded it already. One sender in
the cluster takes them, the holder of a lease in Redis; when it stops renewing it (a node
killed), another node's sender takes over what is waiting.

Keys: ``wq`` (zset, score = seq, member = seq LF [name, ms, channel, user]), ``wo`` (hash:
``seq``, ``epoch``, ``dropped``, ``dropped_new``), ``wl`` (the lease: the holder, with a
TTL), ``wr`` (hash: the sender's report).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channelstream import jsonenc
from channelstream.engine.base import OutboxBatch, OutboxState, Transition
from channelstream.engine.redis.client import RedisPart
from channelstream.engine.redis.codec import new_epoch, text


class RedisOutbox(RedisPart):
    # ",name,name," as the scripts test it ('' records nothing), and the cap.
    _keep = ""
    _cap = 0

    def _recording(self, now: float) -> tuple[str, int, str]:
        """The arguments a deciding script records with: keep, cap, time in ms."""
        return self._keep, self._cap, str(int(now * 1000))

    def keep_transitions(self, names: frozenset[str], cap: int) -> None:
        self._keep = "," + ",".join(sorted(names)) + "," if names else ""
        self._cap = cap

    def take_transitions(self, holder: str, *, lease: float, limit: int) -> OutboxBatch | None:
        reply = self._run("OUTBOX_TAKE", holder, max(1, int(lease * 1000)), limit, new_epoch())
        if not reply:
            return None
        epoch, dropped, entries = reply
        return OutboxBatch(text(epoch), [_transition(entry) for entry in entries], int(dropped))

    def drop_transitions(self, epoch: str, upto: int) -> int:
        return int(self._run("OUTBOX_DROP", epoch, upto))

    def release_outbox(self, holder: str) -> None:
        self._run("OUTBOX_RELEASE", holder)

    def report_outbox(self, values: dict[str, str], increments: dict[str, int]) -> None:
        key = self.prefix + "wr"
        mapping: Mapping[Any, Any] = values  # redis-py's hints want bytes-or-str keys
        with self.redis.pipeline(transaction=True) as pipe:
            if values:
                pipe.hset(key, mapping=mapping)
            for field, step in increments.items():
                pipe.hincrby(key, field, step)
            pipe.execute()

    def outbox_state(self) -> OutboxState:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zcard(self.prefix + "wq")
            pipe.hget(self.prefix + "wo", "dropped")
            pipe.hgetall(self.prefix + "wr")
            pending, dropped, report = pipe.execute()
        return OutboxState(
            int(pending),
            int(dropped or 0),
            {text(field): text(value) for field, value in report.items()},
        )


def _transition(entry: bytes) -> Transition:
    seq, _, body = entry.partition(b"\n")
    name, ms, channel, user = jsonenc.loads(body)
    return Transition(int(seq), name, int(ms), channel or None, user or None)
