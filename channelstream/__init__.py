"""channelstream: a friendly, scalable real-time server for web applications.

Nothing here imports Pyramid or gevent at module level: ``pserve`` imports our server runner
(``channelstream.server``) before the application, and the runner must monkey-patch before
Pyramid's thread-locals exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.router import Router

from channelstream.version import __version__

__all__ = ["__version__", "includeme", "main"]


def includeme(config: Configurator) -> None:
    """``config.include("channelstream")``: the whole wiring of the add-on."""
    from channelstream import app

    app.includeme(config)


def main(global_config: dict[str, Any], **settings: Any) -> Router:
    """The paste ``app_factory``: channelstream as the whole application."""
    from channelstream.app import make_app
    from channelstream.errors import ConfigurationError

    try:
        return make_app(settings)
    except ConfigurationError as exc:
        # A clear sentence for the operator instead of a traceback.
        raise SystemExit(f"channelstream: {exc}") from None
