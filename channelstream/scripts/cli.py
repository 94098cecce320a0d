"""``channelstream [FILE]``: serve a node, the ways 0.7.1 users know and ours.

- ``channelstream FILE`` (or ``-i FILE``, or ``CHANNELSTREAM_INI=FILE``): a paste-deploy ini
  (``[app:main]``, as ``channelstream_utils make_config`` writes it) is served like
  ``pserve FILE``; an ini with 0.7.1's ``[channelstream]`` section is translated
  (``channelstream.legacy``) and served by our runner.
- ``channelstream`` alone: every setting from ``CHANNELSTREAM_*`` variables, as 0.7.1 did.
- ``-v``/``--version`` prints the version, as 0.7.1's did.

Whatever stops the start is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import sys
from pathlib import Path

# The sections that make an ini a paste-deploy application (what pserve serves).
PASTE_APP_SECTIONS = ("app:main", "pipeline:main", "composite:main")
LOG_FORMAT = "%(asctime)s %(levelname)-5.5s [%(name)s] %(message)s"

log = logging.getLogger("channelstream.cli")


class StartFailed(Exception):
    """Why the node cannot start, in one sentence."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="channelstream",
        description="Serve channelstream from an ini file, or from CHANNELSTREAM_* variables.",
    )
    parser.add_argument("config", nargs="?", help="the ini file (production.ini, ...)")
    parser.add_argument("-i", "--ini", dest="ini", help="the ini file (0.7.1's option)")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)
    if args.version:
        from channelstream import __version__

        print(__version__)
        return 0
    path = args.ini or args.config or os.environ.get("CHANNELSTREAM_INI") or None
    try:
        if path is None:
            return serve_071({}, reload=args.reload)
        sections = read_sections(path)
        if any(name in sections for name in PASTE_APP_SECTIONS):
            return serve_paste(path, reload=args.reload)
        if "channelstream" in sections:
            return serve_071(sections["channelstream"], reload=args.reload)
        raise StartFailed(
            f"{path} has neither an [app:main] section (channelstream_utils make_config "
            "writes one) nor 0.7.1's [channelstream] section"
        )
    except StartFailed as exc:
        print(f"channelstream: {exc}", file=sys.stderr)
        return 2


def read_sections(path: str) -> dict[str, dict[str, str]]:
    if not Path(path).is_file():
        raise StartFailed(f"no such ini file: {path}")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise StartFailed(f"{path} is not a valid ini file: {exc.message}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


def serve_paste(path: str, *, reload: bool) -> int:
    if not reload:
        # Patch gevent before pserve loads anything (under --reload hupper's worker does).
        import channelstream.server  # noqa: F401
    from pyramid.scripts.pserve import main as pserve

    return int(pserve(["pserve", path] + (["--reload"] if reload else [])) or 0)


def serve_071(section: dict[str, str], *, reload: bool) -> int:
    """0.7.1's start: a ``[channelstream]`` section, or the environment alone."""
    if reload:
        raise StartFailed(
            "--reload needs a paste-deploy ini (channelstream_utils make_config "
            "--development -o development.ini writes one)"
        )
    from channelstream import (
        legacy,
        server,  # patches gevent before Pyramid is imported
    )
    from channelstream import main as app_factory

    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    settings, warnings = legacy.section_settings(section)
    settings, made = legacy.with_cookie_secret(settings, os.environ)
    for warning in warnings:
        log.warning("%s", warning)
    if made:
        log.warning("no cookie_secret: made a random one; admin sessions end with this process")
    app = app_factory({}, **settings)
    server.serve(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
