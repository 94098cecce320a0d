"""The bounds our HTTP server keeps a client within (from the settings; see
``http_connection`` for how each is applied)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    body_timeout: float = 30.0


DEFAULT_LIMITS = HttpLimits()
