"""Small collections of names kept per connection: a tuple while few, a set once many.

Every idle socket holds several of these (its channels, its user's conn_ids, its conn_id
in a channel's members), and nearly all hold one or two names: an empty set costs 216
bytes, a tuple of one 48. Past ``FEW`` a set keeps adding and removing O(1), so a
connection in thousands of channels costs what it did.
"""

from __future__ import annotations

from collections.abc import Iterable

Few = tuple[str, ...] | set[str]

FEW = 8


def few(items: Iterable[str]) -> Few:
    """The items, each once, as a tuple (up to FEW of them) or a set."""
    unique = tuple(dict.fromkeys(items))
    return unique if len(unique) <= FEW else set(unique)


def added(items: Few, item: str) -> Few:
    """`items` with `item`; a set is changed in place, a tuple replaced."""
    if isinstance(items, set):
        items.add(item)
        return items
    if item in items:
        return items
    return (*items, item) if len(items) < FEW else {*items, item}


def removed(items: Few, item: str) -> Few:
    """`items` without `item`; a set is changed in place, a tuple replaced."""
    if isinstance(items, set):
        items.discard(item)
        return items
    return tuple(other for other in items if other != item) if item in items else items
