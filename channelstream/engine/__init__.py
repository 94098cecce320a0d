"""Engines hold the shared truth (channels, users, connections, streams) and carry every
published envelope to every node. ``base`` is the contract; ``memory`` the embedded
default; ``redis`` several nodes on one Redis. Any other engine passes the same contract
tests (docs/engines.md) and is named by its dotted name in ``channelstream.engine``."""
