"""Small collections of names: tuples while few, sets once many, the same answers either way."""

from __future__ import annotations

from channelstream.model.few import FEW, added, few, removed


def test_few_names_are_a_tuple_in_order_each_once() -> None:
    assert few([]) == ()
    assert few(["b", "a", "b"]) == ("b", "a")
    many = few(str(n) for n in range(FEW + 1))
    assert isinstance(many, set) and len(many) == FEW + 1


def test_adding_and_removing_keeps_each_name_once() -> None:
    items = added((), "a")
    assert items == ("a",)
    assert added(items, "a") is items  # already there: unchanged
    items = added(items, "b")
    assert items == ("a", "b")
    assert removed(items, "x") is items
    assert removed(items, "a") == ("b",)
    assert removed(("b",), "b") == ()


def test_past_few_a_set_takes_over_and_is_changed_in_place() -> None:
    items: tuple[str, ...] | set[str] = ()
    for n in range(FEW):
        items = added(items, str(n))
    assert isinstance(items, tuple) and len(items) == FEW
    grown = added(items, "new")
    assert isinstance(grown, set) and grown == {*items, "new"}
    assert added(grown, "more") is grown and "more" in grown
    assert removed(grown, "new") is grown and "new" not in grown
