"""The admin panel's extra routes (actions and the API explorer); wired by ``routes``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Nothing yet beyond the routes in ``channelstream.routes``."""
