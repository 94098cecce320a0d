"""Limits and fairness: how much one user, one connection, one client address, one socket
and this node may take (README "Limits").

specs.py     the settings, declared as every setting is
buckets.py   token buckets: the rate rule, one bucket per client address (bounded), and
             the long-polls that continue their connection's previous one
refusals.py  every refusal counted by limit, and logged at most once a minute per address
node.py      this node's limits at work: what /ws and /listen are admitted by, the rule
             a WebSocket's frames follow
"""
