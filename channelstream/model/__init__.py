"""Domain nouns: channel configuration, users' state, connections and published events.
Plain data with no I/O and no access to the global state."""
