"""Console commands: ``channelstream`` (serve an ini) and ``channelstream_utils``."""
