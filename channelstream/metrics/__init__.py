"""Prometheus metrics: ``GET /metrics`` (``views.metrics``), made with prometheus_client.

One job per module: ``families`` declares every metric; ``figures`` reads the node's plain
counters; ``mirror`` copies them into the families; ``workers`` makes a group of worker
processes on one port report as one node; ``process`` gives that group the process
collector's figures; ``tween`` counts and times HTTP requests; ``exporter`` ties them to
one application. The publish path counts with plain ints only; everything here runs when
Prometheus scrapes (and once a second per worker in a group).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    from pyramid.tweens import INGRESS

    from channelstream.metrics.exporter import Exporter
    from channelstream.metrics.tween import REGISTRY_KEY
    from channelstream.runtime import runtime_of

    runtime = runtime_of(config.registry)
    exporter = Exporter(runtime)
    config.registry[REGISTRY_KEY] = exporter
    runtime.services.append(exporter)
    config.add_tween("channelstream.metrics.tween.counting_tween", under=INGRESS)
