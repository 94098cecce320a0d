"""``channelstream FILE``: serve an ini file, like ``pserve FILE`` (0.7's ``-i FILE`` too)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="channelstream", description="Serve channelstream from a paste-deploy ini file."
    )
    parser.add_argument("config", nargs="?", help="the ini file (production.ini, ...)")
    parser.add_argument("-i", "--ini", dest="ini", help="the ini file (0.7 spelling)")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args(argv)
    config = args.ini or args.config
    if not config:
        parser.error("name the ini file to serve, e.g. channelstream production.ini")
    # pserve loads the server runner before the application: the patching order we need.
    from pyramid.scripts.pserve import main as pserve

    pserve_argv = ["pserve", config] + (["--reload"] if args.reload else [])
    return int(pserve(pserve_argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
