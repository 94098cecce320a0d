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
    secret: bool = False
