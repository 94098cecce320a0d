"""``channelstream_utils make_config [-o FILE] [--development] [-j JSON]``: a complete, ready
ini. Production (the default) gets fresh random secrets; ``--development`` the fixed ones of
the README's examples, short collection intervals and debug logs. ``-j`` sets values, in our
setting names or 0.7.1's (``host``, ``port``, lists as JSON lists), as 0.7.1's ``-j`` did.
Without ``-o`` the ini goes to stdout; a file is written readable by its owner only (0600),
since it holds the secrets.

The repository's own ``production.ini`` and ``development.ini`` are this command's output
(a test keeps them so), so the installed package can always write them again.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from channelstream.settings import SECRET_NAMES, SETTINGS

PRODUCTION, DEVELOPMENT = "production", "development"
PLACEHOLDER = "changeme"

# What a development ini changes from the defaults.
DEVELOPMENT_VALUES = {
    "environment": "development",
    "secret": "secret",
    "admin_secret": "admin_secret",
    "cookie_secret": "cookie_secret",
    "allow_posting_from": "127.0.0.1 ::1",
    "gc_users_after": "3600",
    "gc_channels_after": "3600",
    "gc_interval": "10",
    "listen": "127.0.0.1:8000",
    "log_level": "DEBUG",
}

HEADERS = {
    PRODUCTION: """\
# channelstream, production (written by `channelstream_utils make_config`).
# Serve it with `channelstream FILE` (or `pserve FILE`). Every channelstream.NAME can be
# overridden by the environment variable CHANNELSTREAM_NAME; secrets are best kept there.
""",
    DEVELOPMENT: """\
# channelstream, development (written by `channelstream_utils make_config --development`):
# the well-known secrets of the README's examples, short collection intervals, debug logs.
# Serve it with `channelstream FILE` or `pserve --reload FILE`. Every channelstream.NAME can
# be overridden by the environment variable CHANNELSTREAM_NAME.
""",
}
PLACEHOLDER_NOTE = """\
# The secrets below are placeholders: production refuses to start until each is set, here or
# in CHANNELSTREAM_SECRET, CHANNELSTREAM_ADMIN_SECRET and CHANNELSTREAM_COOKIE_SECRET
# (`channelstream_utils make_config -o FILE` writes an ini with fresh ones).
"""

LOGGING = """
[server:main]
use = egg:channelstream#gevent

[loggers]
keys = root, channelstream

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = {root}
handlers = console

[logger_channelstream]
level = {own}
handlers =
qualname = channelstream

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


def render_config(
    profile: str = PRODUCTION,
    values: dict[str, str] | None = None,
    *,
    placeholders: bool = False,
) -> str:
    """The ini for a profile; `values` win over its defaults. Production secrets are fresh
    random ones unless `placeholders` (the repository's production.ini)."""
    chosen = dict(DEVELOPMENT_VALUES) if profile == DEVELOPMENT else {}
    if profile == PRODUCTION:
        for name in SECRET_NAMES:
            chosen[name] = PLACEHOLDER if placeholders else secrets.token_urlsafe(32)
    chosen.update(values or {})
    lines = [HEADERS[profile].rstrip("\n")]
    if placeholders:
        lines.append(PLACEHOLDER_NOTE.rstrip("\n"))
    lines += ["", "[app:main]", "use = egg:channelstream"]
    if profile == DEVELOPMENT:
        lines.append("# Every other setting keeps its default (the README's settings table).")
    for setting in SETTINGS:
        if profile == DEVELOPMENT and setting.name not in chosen:
            continue  # short, and nothing to merge when a setting is added
        lines.append(f"# {setting.doc}")
        lines.append(f"channelstream.{setting.name} = {chosen.get(setting.name, setting.default)}")
    root, own = ("INFO", "DEBUG") if profile == DEVELOPMENT else ("WARNING", "INFO")
    return "\n".join(line.rstrip() for line in lines) + "\n" + LOGGING.format(root=root, own=own)


def json_values(text: str) -> dict[str, str]:
    """-j's values as ini text: our names, or 0.7.1's host and port (one listen address)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"-j is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("-j must be a JSON object of settings")
    known = {setting.name for setting in SETTINGS}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key in ("host", "port"):
            continue
        if key not in known:
            print(f"channelstream_utils: -j {key} is ignored: no such setting", file=sys.stderr)
            continue
        values[key] = _ini_text(value)
    if "host" in data or "port" in data:
        values["listen"] = f"{data.get('host') or '0.0.0.0'}:{data.get('port') or 8000}"
    return values


def _ini_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def write_private(target: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` readable and writable by the owner only, from the first byte."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    descriptor = os.open(target, flags, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="channelstream_utils")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make_config", help="write a ready ini")
    make.add_argument("-o", "--output", help="where to write the ini (default: stdout)")
    make.add_argument(
        "--development", action="store_true", help="a development ini (fixed secrets, debug)"
    )
    make.add_argument("-j", "--json", help="settings as a JSON object (0.7.1's option)")
    make.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    try:
        values = json_values(args.json) if args.json else {}
    except ValueError as exc:
        parser.error(str(exc))
    text = render_config(DEVELOPMENT if args.development else PRODUCTION, values)
    if not args.output:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    try:
        write_private(target, text, overwrite=args.force)
    except FileExistsError:
        parser.error(f"{target} exists; pass --force to overwrite it")
    except OSError as exc:
        parser.error(f"cannot write {target}: {exc.strerror or exc}")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
