"""Totals since start become counter increments; gauges are set as they are."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from channelstream.metrics.families import Families
from channelstream.metrics.mirror import Mirror


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_counters_grow_by_the_difference_and_gauges_are_set() -> None:
    registry = CollectorRegistry()
    mirror = Mirror(Families(registry))
    mirror.apply({"published": {(): 5}, "connections": {("websocket",): 3}})
    mirror.apply({"published": {(): 8}, "connections": {("websocket",): 1}})
    assert value(registry, "channelstream_messages_published_total") == 8
    assert value(registry, "channelstream_connections", transport="websocket") == 1


def test_a_total_that_went_down_is_the_new_base_not_a_decrease() -> None:
    registry = CollectorRegistry()
    mirror = Mirror(Families(registry))
    mirror.apply({"gc_collected": {("users",): 4}})
    mirror.apply({"gc_collected": {("users",): 1}})  # the collection loop restarted
    assert value(registry, "channelstream_gc_collected_total", kind="users") == 4
    mirror.apply({"gc_collected": {("users",): 3}})
    assert value(registry, "channelstream_gc_collected_total", kind="users") == 6
