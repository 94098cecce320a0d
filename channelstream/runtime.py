"""What one channelstream application holds while it runs, in one typed place.

``channelstream.app`` builds it when the add-on is included and keeps it in the registry
under one key; views reach it as ``runtime_of(request)``, the runner as
``runtime_of(app.registry)``. Background work (the engine's subscriber, the collection and
heartbeat loops) starts with ``start``: when the application is created, or when the runner
starts serving, never at configuration time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol

from channelstream.limits.node import NodeLimits
from channelstream.state import State
from channelstream.tasks import Tasks
from channelstream.throttle import SignInThrottle
from channelstream.trends import Trends
from channelstream.webhooks.sender import WebhookSender

if TYPE_CHECKING:
    from channelstream.security import SignatureChecker

REGISTRY_KEY = "channelstream"


class Service(Protocol):
    """Background work an included part adds (the metrics exporter): started and stopped
    with the loops."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclasses.dataclass
class Runtime:
    state: State
    # The callable named by channelstream.signature_checker, resolved at configuration.
    check_signature: SignatureChecker
    # The route prefix we were included with ("" at the root), and where our static files
    # are served under it (CORS headers go there too).
    route_prefix: str = ""
    static_path: str = "/static/"
    # The admin panel's page (channelstream/static/admin/index.html), read once.
    admin_page: str = ""
    # Swagger UI's files, when swagger-ui-bundle is installed.
    swagger_ui: str | None = None
    # The OpenAPI document, built on first use (it needs every route registered).
    openapi: dict[str, Any] | None = None
    tasks: Tasks | None = None
    # This node's webhook sender (channelstream.webhook_url set, background work on).
    webhooks: WebhookSender | None = None
    started: bool = False
    # Wrong admin passwords, counted per address and per user name (this process only).
    sign_in_throttle: SignInThrottle = dataclasses.field(default_factory=SignInThrottle)
    # Requests answered 503 because the shared state could not be reached (with the
    # engine's own error_count, channelstream_engine_errors_total).
    unavailable_answers: int = 0
    services: list[Service] = dataclasses.field(default_factory=list)
    # This node's limits (admission of /ws and /listen, the WebSocket frame rate) and the
    # count of every refusal by limit: ``limits.refusals.counts``.
    limits: NodeLimits = dataclasses.field(init=False)
    # The last minutes of this node for the admin panel's charts, sampled by a background
    # job (empty series without background work).
    trends: Trends = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        state = self.state
        self.limits = NodeLimits(state.settings, state.hub.connections)
        self.trends = Trends(
            state.hub, state.engine, state.clock, state.settings.admin_trend_minutes
        )

    def start(self, *, background: bool = True) -> None:
        """Start the engine (its subscriber, on a networked engine) and, with `background`,
        the collection, heartbeat and trend-sampling loops and the webhook sender. A second
        call does nothing."""
        if self.started:
            return
        self.started = True
        settings = self.state.settings
        if settings.webhook_url:
            # Every node records the transitions it decides; one of them sends.
            self.state.engine.keep_transitions(
                frozenset(settings.webhook_events), settings.webhook_max_pending
            )
        self.state.engine.start(self.state.node)
        if background:
            self.tasks = Tasks(self.state, self.trends)
            self.tasks.start()
            if settings.webhook_url:
                self.webhooks = WebhookSender(self.state)
                self.webhooks.start()
            for service in self.services:
                service.start()
        _running.append(self)

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        for service in self.services:
            service.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
            self.webhooks = None
        if self.tasks is not None:
            self.tasks.stop()
            self.tasks = None
        self.state.engine.stop()
        if self in _running:
            _running.remove(self)


# The runtimes started in this process: the runner serves one when the application it is
# handed is wrapped (by a WSGI middleware) and has no registry to ask.
_running: list[Runtime] = []


def running() -> list[Runtime]:
    return list(_running)


def runtime_of(holder: Any) -> Runtime:
    """The runtime of a request or a registry."""
    registry = getattr(holder, "registry", holder)
    found = registry.get(REGISTRY_KEY) if registry is not None else None
    if not isinstance(found, Runtime):
        raise RuntimeError("channelstream is not configured here: config.include('channelstream')")
    return found


def runtime_served(app: Any) -> Runtime:
    """The runtime of an application a server is handed: its registry's, or, when a WSGI
    middleware wraps it (and hides the registry), the one started in this process."""
    registry = getattr(app, "registry", None)
    if registry is not None:
        return runtime_of(registry)
    started = running()
    if len(started) != 1:
        raise SystemExit(
            "channelstream: the served application has no registry and "
            f"{len(started)} channelstream applications run here; serve one directly"
        )
    return started[0]
