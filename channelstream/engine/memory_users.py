"""The memory engine's users: records, state, collection (``MemoryEngine`` mixes it in)."""

from __future__ import annotations

from typing import Any

from channelstream.engine.memory_log import StreamLog
from channelstream.model.connection import Connection
from channelstream.model.user import NO_STATE, StateValue, User


class MemoryUsers:
    users: dict[str, User]
    user_logs: dict[str, StreamLog]
    connections: dict[str, Connection]

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
        user = self.users.get(username)
        if user is None:
            if not create:
                return None
            user = User(username, dict(fresh_state) if fresh_state else NO_STATE)
            self.users[username] = user
        if public_keys is not None:
            user.public_keys = tuple(public_keys)
        changed = user.merge_state(changes or {})
        user.last_active = now
        return user.copy(), changed

    def get_user(self, username: str) -> User | None:
        user = self.users.get(username)
        return user.copy() if user else None

    def get_users(self, usernames: list[str]) -> list[User]:
        return [self.users[name].copy() for name in usernames if name in self.users]

    def user_states(
        self, usernames: list[str], *, public: bool
    ) -> list[tuple[str, dict[str, StateValue]]]:
        # Fresh dicts, not whole copies of every User: a channel of 100 users made copying
        # half the cost of a /connect.
        users = self.users
        return [
            (name, users[name].public_state if public else dict(users[name].state))
            for name in usernames
            if name in users
        ]

    def list_users(self) -> list[User]:
        return [user.copy() for user in self.users.values()]

    def collect_users(self, idle_before: float) -> list[str]:
        busy = {conn.username for conn in self.connections.values()}
        gone = [
            name
            for name, user in self.users.items()
            if name not in busy and user.last_active < idle_before
        ]
        for name in gone:
            del self.users[name]
            self.user_logs.pop(name, None)
        return gone
