"""Every family has the name docs/metrics.md gives it, and the doc lists nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from channelstream.metrics.families import Families
from channelstream.metrics.process import CPU, GAUGES

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def family_names() -> set[str]:
    registry = CollectorRegistry()
    Families(registry)
    names = set()
    for family in registry.collect():
        # prometheus_client names a counter's family without `_total`.
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def test_the_issue_s_names_are_all_there() -> None:
    assert {
        "channelstream_connections",
        "channelstream_users",
        "channelstream_channels",
        "channelstream_messages_published_total",
        "channelstream_deliveries_total",
        "channelstream_frames_sent_total",
        "channelstream_http_requests_total",
        "channelstream_http_request_duration_seconds",
        "channelstream_ws_closes_total",
        "channelstream_slow_consumers_total",
        "channelstream_gaps_total",
        "channelstream_catchup_events_total",
        "channelstream_engine_up",
        "channelstream_engine_errors_total",
        "channelstream_gc_collected_total",
        "channelstream_limit_refusals_total",
    } <= family_names()


def test_docs_metrics_lists_every_family_and_the_process_collector() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)`", DOC.read_text(), re.MULTILINE))
    assert documented == family_names() | set(GAUGES) | {CPU}
