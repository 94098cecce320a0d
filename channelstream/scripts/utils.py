"""``channelstream_utils make_config -o FILE``: a complete, ready ini with fresh secrets."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from channelstream.settings import SECRET_NAMES, SETTINGS

TAIL = """
[server:main]
use = egg:channelstream#gevent

[loggers]
keys = root, channelstream

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_channelstream]
level = INFO
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


def render_config() -> str:
    lines = [
        "# Written by channelstream_utils make_config. Every channelstream.NAME below can be",
        "# overridden by the environment variable CHANNELSTREAM_NAME.",
        "",
        "[app:main]",
        "use = egg:channelstream",
    ]
    for setting in SETTINGS:
        value = setting.default
        if setting.name in SECRET_NAMES:
            value = secrets.token_urlsafe(32)
        lines.append(f"# {setting.doc}")
        lines.append(f"channelstream.{setting.name} = {value}".rstrip())
    return "\n".join(lines) + "\n" + TAIL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="channelstream_utils")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make_config", help="write a ready ini with fresh secrets")
    make.add_argument("-o", "--output", required=True, help="where to write the ini")
    make.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    target = Path(args.output)
    if target.exists() and not args.force:
        parser.error(f"{target} exists; pass --force to overwrite it")
    target.write_text(render_config())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
