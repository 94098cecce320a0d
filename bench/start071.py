"""Start Channelstream 0.7.1 through its own entry point (``channelstream -i INI``).

One change only: 0.7.1 also starts a Flash policy server on the fixed port 0.0.0.0:10843,
which nothing here uses and which collides with any other 0.7.1 running on the machine; it is
moved to a free loopback port. Run with bench/.venv-071's Python (3.7).
"""

import sys

import channelstream.cli.start as start  # its import monkey-patches gevent first

FLASH_POLICY_PORT = 10843


class _PolicyServer(start.StreamServer):
    def __init__(self, listener, *args, **kwargs):
        if isinstance(listener, tuple) and listener[1] == FLASH_POLICY_PORT:
            listener = ("127.0.0.1", 0)
        super().__init__(listener, *args, **kwargs)


start.StreamServer = _PolicyServer

if __name__ == "__main__":
    sys.argv[0] = "channelstream"
    sys.exit(start.main())
