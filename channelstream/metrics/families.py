"""The metric families channelstream exposes, built with prometheus_client's own types.

One ``Families`` per application. Alone in its process, its metrics are registered in the
application's registry; in a group of workers (``channelstream.metrics_dir``) they are not
registered anywhere: prometheus_client keeps their values in the shared directory, and the
scrape reads them all from there (``metrics.workers``). There, each gauge says how the
workers' values combine: connections add up, the cluster-wide counts of users and channels
are the same everywhere (the largest is taken), and the engine is up only where every
worker reaches it (the smallest).

Docs: docs/metrics.md lists every name, its labels and what it means.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# From a 1 ms API call to a long-poll held for its whole timeout.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Families:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str, mode: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=registry, multiprocess_mode=mode)  # type: ignore[arg-type]

        self.connections = gauge(
            "channelstream_connections",
            "Connections attached to this node, by transport.",
            "livesum",
            ("transport",),
        )
        self.users = gauge(
            "channelstream_users", "Users the shared state knows (online or remembered).", "livemax"
        )
        self.channels = gauge(
            "channelstream_channels", "Channels the shared state knows.", "livemax"
        )
        self.published = counter(
            "channelstream_messages_published_total",
            "Events handed to this node's hub for delivery (each once, however many sockets).",
        )
        self.deliveries = counter(
            "channelstream_deliveries_total",
            "Published messages handed to local connections, live or replayed, by transport.",
            ("transport",),
        )
        self.frames_sent = counter(
            "channelstream_frames_sent_total",
            "Batches of live events handed to a connection's transport (a WebSocket frame each).",
        )
        self.ws_closes = counter(
            "channelstream_ws_closes_total",
            "WebSocket sessions ended, by close code (1006: the socket went away unclosed; "
            "a client's own codes as 3xxx, 4xxx).",
            ("code",),
        )
        self.slow_consumers = counter(
            "channelstream_slow_consumers_total",
            "WebSockets closed with 4008: more than max_queued_bytes waiting for the client.",
        )
        self.gaps = counter(
            "channelstream_gaps_total",
            "Streams a connection resumed with a hole in (a gap notice or mark), by reason.",
            ("reason",),
        )
        self.catchup_events = counter(
            "channelstream_catchup_events_total", "Events replayed to connections (catch-up)."
        )
        self.engine_up = gauge(
            "channelstream_engine_up",
            "1 when this node reaches its shared state, else 0.",
            "livemin",
        )
        self.engine_errors = counter(
            "channelstream_engine_errors_total",
            "Failures to reach the shared state: requests answered 503 for it, and the "
            "engine's own (subscriber, heartbeat) failures.",
        )
        self.gc_collected = counter(
            "channelstream_gc_collected_total",
            "What garbage collection removed as idle, by kind (connections, users, channels).",
            ("kind",),
        )
        self.limit_refusals = counter(
            "channelstream_limit_refusals_total",
            "Requests and frames refused by a limit, by the limit's setting name.",
            ("limit",),
        )
        self.webhook_events = counter(
            "channelstream_webhook_events_total",
            "Presence transitions this node's webhook sender settled: sent or abandoned.",
            ("result",),
        )
        self.webhook_failures = counter(
            "channelstream_webhook_failures_total", "Webhook POSTs that failed (to be retried)."
        )
        self.webhook_pending = gauge(
            "channelstream_webhook_pending",
            "Transitions waiting in the shared outbox to be sent.",
            "livemax",
        )
        self.http_requests = counter(
            "channelstream_http_requests_total",
            "HTTP requests answered, by route name, method and status.",
            ("route", "method", "status"),
        )
        self.http_duration = Histogram(
            "channelstream_http_request_duration_seconds",
            "Seconds from a request reaching the application to its answer, by route name.",
            ("route",),
            registry=registry,
            buckets=HTTP_BUCKETS,
        )
