"""A user's state: a flat dict of simple values, some of whose keys are public."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

StateValue = str | int | float | bool | None

# Names the users' uuids (uuid5 of the user name in this namespace): every node and every
# restart gives a user the same uuid, with nothing to store or keep in step.
USER_UUID_NAMESPACE = uuid.UUID("71d49474-4211-40d9-8fc5-ad8108883ba1")

# The state of a user who has none: shared by every such record, never written to (the
# first change replaces it, merge_state); an empty dict costs 64 bytes per user.
NO_STATE: dict[str, StateValue] = {}


@dataclasses.dataclass(slots=True)
class User:
    username: str
    state: dict[str, StateValue] = dataclasses.field(default_factory=dict)
    # A tuple in the memory engine's records (none: the shared empty one), a list in copies.
    public_keys: Sequence[str] = ()
    last_active: float = 0.0

    @property
    def uuid(self) -> str:
        """The user's own uuid, as 0.7.1's admin.json listed it; stable while the user is
        known (and beyond: it depends on the name alone)."""
        return str(uuid.uuid5(USER_UUID_NAMESPACE, self.username))

    @property
    def public_state(self) -> dict[str, StateValue]:
        return {key: value for key, value in self.state.items() if key in self.public_keys}

    def merge_state(self, changes: Mapping[str, StateValue]) -> list[dict[str, Any]]:
        """Apply changes; answer the ones that changed a value, as 0.7 reported them."""
        changed = []
        state = self.state
        for key, value in changes.items():
            if key not in state or state[key] != value:
                if state is NO_STATE:
                    state = self.state = {}
                state[key] = value
                changed.append({"key": key, "value": value})
        return changed

    def public_changes(self, changed: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in changed if item["key"] in self.public_keys]

    def copy(self) -> User:
        return User(self.username, dict(self.state), list(self.public_keys), self.last_active)
