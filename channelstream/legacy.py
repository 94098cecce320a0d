"""Channelstream 0.7.1's own ways to configure a node, translated to our settings.

0.7.1 started with ``channelstream -i FILE`` (or ``CHANNELSTREAM_INI``), reading a
``[channelstream]`` section as its ``channelstream_utils make_config`` wrote it, or, without
an ini, from ``CHANNELSTREAM_<NAME>`` variables alone. Both keep working: the section's keys
are our settings without their prefix, plus 0.7.1's ``host`` and ``port``; 0.7.1 keys we
have no use for are accepted and reported. docs/upgrading.md lists what changes.
"""

from __future__ import annotations

import difflib
import secrets
from collections.abc import Mapping

from channelstream.setting_specs import ENV_PREFIX, IGNORED_071_SETTINGS, PREFIX, SETTINGS

SECTION = "channelstream"

# 0.7.1's defaults for the listen address.
HOST_071, PORT_071 = "0.0.0.0", "8000"


def section_settings(section: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The ``channelstream.*`` settings a ``[channelstream]`` section names, and a warning
    for each key that is ignored (0.7.1 itself ignored keys it did not know)."""
    names = {setting.name for setting in SETTINGS}
    settings: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in section.items():
        if key in names:
            settings[PREFIX + key] = value.strip()
        elif key in ("host", "port"):
            continue
        elif key in IGNORED_071_SETTINGS:
            why, harmless = IGNORED_071_SETTINGS[key]
            if value.strip().lower() not in harmless:
                warnings.append(f"[channelstream] {key} = {value.strip()} is ignored: {why}")
        else:
            close = difflib.get_close_matches(key, sorted(names | {"host", "port"}), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"[channelstream] {key} is ignored: no such setting{hint}")
    if "host" in section or "port" in section:
        host = section.get("host", "").strip() or HOST_071
        port = section.get("port", "").strip() or PORT_071
        settings[PREFIX + "listen"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return settings, warnings


def with_cookie_secret(
    settings: dict[str, str], environ: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """0.7.1 made a random admin cookie secret at start when none was set: so do we, for
    its ways to start (admin sessions then end with the process). True when one was made."""
    key = PREFIX + "cookie_secret"
    if settings.get(key) or environ.get(ENV_PREFIX + "COOKIE_SECRET"):
        return settings, False
    return {**settings, key: secrets.token_urlsafe(32)}, True
