"""What declaring one setting takes, shared by every list of them (``setting_specs`` and
``limits.specs``, which ``setting_specs`` puts in its list)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: str
    doc: str
    # A secret make_config generates and production checks (and logs mask).
    secret: bool = False
    # Masked in logs and the admin view, but optional (neither generated nor required).
    masked: bool = False
