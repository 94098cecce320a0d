"""When Redis comes back without its data (a restart without persistence, a flush).

Redis then forgets every channel, connection and stream while the nodes still hold sockets
listening to them. Three things keep that from being silent:

- The life marker (``scripts.lifeline.LIFE``): at every subscription a node learns whether
  the shared state is still the one it knew. While no node has marked the new life, and for
  a recovery window (``node_ttl`` seconds) after one did, a publish to an unknown channel is
  refused with 503 (``errors.Unavailable``), as is a direct message to an unknown user:
  nodes may still have listeners for them, and the backend retries. After the window, an
  unknown channel is unknown again (0.7: accepted, reaches nobody).
- The node re-syncs (``EngineEvents.on_resubscribed``): its connections whose records are
  gone are closed as disconnected; their clients connect again and resume, and the ``gap``
  notice ("epoch") tells them the old stream's life ended.
- Presence: every node keeps the users present in each presence channel (loaded at each
  subscription, kept up by the presence events it hears on the bus). After a loss, once
  the recovery window has passed, users who have not come back are restored as connections
  marked disconnected, and the next collection pass sends their ``parted`` (once, whichever
  node restores first), so that users whose node died meanwhile do not silently vanish.
  This costs each node one entry per (presence channel, user), as Redis keeps.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from channelstream.engine.redis.client import RedisPart
from channelstream.engine.redis.codec import chunks, text

log = logging.getLogger("channelstream.engine.redis")

# How long Redis remembers which lost users were restored (every node's attempt after the
# first is a no-op meanwhile).
RESTORED_TTL = 3600


class Lifeline:
    def __init__(self, part: RedisPart, window: float) -> None:
        self.part = part
        # The recovery window, and how long users get to come back before their parted.
        self.window = window
        # The life of the shared state this node knows ("" before its first subscription).
        self.life = ""
        # Presence channel -> users present in it, as this node last heard.
        self.members: dict[str, set[str]] = {}
        # Who was present when the data was lost, and when to restore those not back.
        self._lost: dict[str, set[str]] = {}
        self._restore_at: float | None = None
        self._lock = threading.Lock()

    # -- at every subscription (the bus's thread) --------------------------------------
    def subscribed(self) -> bool:
        """Answers whether the shared state lost its data since this node last knew it."""
        reply = self.part._run("LIFE", self.life, uuid.uuid4().hex, max(1, round(self.window)))
        life, lost = text(reply[0]), bool(reply[1])
        if lost:
            with self._lock:
                for channel, users in self.members.items():
                    self._lost.setdefault(channel, set()).update(users)
                self.members = {}
                self._restore_at = time.monotonic() + self.window
            log.warning(
                "redis lost its data (life %s -> %s): refusing publishes to unknown "
                "channels for %.0f s, then restoring presence",
                self.life or "?",
                life,
                self.window,
            )
        else:
            self.members = self._load()
        self.life = life
        return lost

    def _load(self) -> dict[str, set[str]]:
        prefix = self.part.prefix
        names = sorted(text(name) for name in self.part.redis.smembers(prefix + "pc"))
        members: dict[str, set[str]] = {}
        for chunk in chunks(names, 500):
            with self.part.redis.pipeline(transaction=False) as pipe:
                for name in chunk:
                    pipe.hkeys(f"{prefix}cu:{name}")
                replies = pipe.execute()
            for name, users in zip(chunk, replies, strict=True):
                if users:
                    members[name] = {text(user) for user in users}
        return members

    def heard(self, channel: str, presence: list[str]) -> None:
        """A presence event on the bus: [user, "joined" | "parted"]."""
        user, action = presence[0], presence[1]
        if action == "joined":
            self.members.setdefault(channel, set()).add(user)
        elif action == "parted":
            present = self.members.get(channel)
            if present is not None:
                present.discard(user)
                if not present:
                    del self.members[channel]

    # -- on the heartbeat (its own thread) ---------------------------------------------
    def changed(self) -> bool:
        """Whether the data was lost while the subscriber stayed connected (a flush)."""
        if not self.life:
            return False
        current = self.part.redis.get(self.part.prefix + "life")
        return current is None or text(current) != self.life

    def restore_due(self) -> int:
        """After the window: the users who were present and have not come back are restored
        as disconnected connections; answers how many (channel, user) were."""
        with self._lock:
            if self._restore_at is None or time.monotonic() < self._restore_at:
                return 0
            lost, self._lost, self._restore_at = self._lost, {}, None
        pairs = [(name, user) for name, users in sorted(lost.items()) for user in sorted(users)]
        made = 0
        try:
            for start in range(0, len(pairs), 250):
                args: list[str] = []
                for name, user in pairs[start : start + 250]:
                    args += [name, user]
                made += int(self.part._run("RESTORE_LOST", self.life, RESTORED_TTL, *args))
        except Exception:
            with self._lock:  # try again at the next heartbeat
                for name, users in lost.items():
                    self._lost.setdefault(name, set()).update(users)
                self._restore_at = time.monotonic()
            raise
        if made:
            log.warning("restored %d lost presences: their parted follows", made)
        return made
