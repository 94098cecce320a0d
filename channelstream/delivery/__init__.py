"""This node's side of delivery: the hub (local connections, batching, positions), the one
place that decides catch-up and gaps (recovery), attaching transports, and the node the
engine talks to (``EngineEvents``)."""
