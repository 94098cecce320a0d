"""Scraping /metrics as Prometheus would, parsed with prometheus_client's own parser."""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from tests.support.webapp import App

Key = tuple[str, tuple[tuple[str, str], ...]]


class Samples(dict[Key, float]):
    """Every sample of a scrape: (sample name, sorted labels) -> value."""

    def value(self, name: str, **labels: str) -> float:
        """One sample's value; 0 for a labelled series not yet seen (not yet counted)."""
        return self.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, got), v in self.items() if n == name and wanted <= set(got))

    def names(self) -> set[str]:
        return {name for name, _ in self}


def parse(text: str) -> Samples:
    samples = Samples()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def fetch(
    url: str, source: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """GET /metrics from the local address `source` on a new TCP connection (a group of
    workers on one port: each connection may land on another): (status, type, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", "/metrics", headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


def scrape(url: str, **kwargs: object) -> Samples:
    status, _, body = fetch(url, **kwargs)  # type: ignore[arg-type]
    assert status == 200, (status, body)
    return parse(body)


# WSGI's REMOTE_ADDR for an in-process request from outside allow_posting_from.
OUTSIDE = {"REMOTE_ADDR": "127.0.0.2"}


def app_samples(app: App, **kwargs: Any) -> Samples:
    """GET /metrics from an application in this process (WebTest)."""
    answer = app.get("/metrics", **kwargs)
    assert answer.content_type == "text/plain"
    return parse(answer.text)
