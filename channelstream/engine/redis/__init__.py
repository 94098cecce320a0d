"""The Redis engine: several channelstream processes share one truth and act as one server.

What lives in Redis (every key starts with the prefix, ``{channelstream}:`` by default; the
braces are a hash tag, so on a Redis Cluster every key lands in one slot):

==================  ===============================================================
``users``           zset: username -> last activity
``u:<user>``        hash: ``state`` (JSON), ``keys`` (JSON list of public keys)
``uc:<user>``       set: the user's conn_ids
``conns``           zset: conn_id -> last activity
``disc``            set: conn_ids marked by /disconnect
``claims``          hash: conn_id -> until when a node's GC pass holds it
``k:<conn>``        hash: ``user``, ``disc``, ``node`` (the node its socket is on)
``kc:<conn>``       set: its channels
``kp:<conn>``       hash: what it was last sent, ``c:<channel>`` / ``d`` -> [epoch, offset]
``channels``        zset: name -> last activity
``c:<name>``        hash: ``cfg`` (JSON), ``sf``/``sh``/``hs`` (store_frames, store_history,
                    history_size, for the scripts), ``uuid``, ``created``, ``epoch``, ``off``
                    (the latest offset), ``floor`` (the newest offset that left the window)
``cm:<name>``       hash: conn_id -> username (members)
``cu:<name>``       hash: username -> connections in the channel (presence is per user)
``ch:<name>``       list: history (payload JSON)
``cl:<name>``       zset: catch-up window, score = offset, member = rules JSON + LF + payload
``d:<user>``        hash: the user's direct stream: ``epoch``, ``off``, ``floor``
``dl:<user>``       zset: the direct stream's window
``nodes``           set: node ids; ``n:<node>`` its heartbeat key (TTL ``node_ttl``);
                    ``nc:<node>`` the conn_ids whose socket it holds
``counters``        hash: ``total_unique_messages``
``i:<uuid>:<k>:<n>`` a message published within ``idempotency_window`` to the channel
                    (``c``) or direct stream (``d``) ``<n>``: until when it counts, LF, the
                    stamped payload its publish answered; it expires with the window
``pc``              set: the presence channels (notify_presence), whose members nodes follow
``life``            the id of this life of the data: only a data loss removes it
``recovering``      set for ``node_ttl`` seconds after a node noticed a data loss
``restored:<life>`` set: the lost (channel, user) presences already restored
``bus:<db>``        the pub/sub channel every envelope travels on (named after the database:
                    pub/sub is shared by all databases of a server)
``wq``              zset: the outbox, presence transitions waiting for the webhook sender
                    (score = seq, member = seq LF [name, ms, channel, user])
``wo``              hash: the outbox's ``seq``, ``epoch``, ``dropped`` (by the cap, in all),
                    ``dropped_new`` (since the sender last took)
``wl``              the sender's lease: its holder, with a TTL
``wr``              hash: what the sender reports (last success, failures...)
==================  ===============================================================

The parts, one job each: ``client`` (URLs, Sentinel, the clients and the scripts runner),
``codec`` (what is kept and what travels), ``scripts`` (the Lua: every write the contract
calls atomic is one script), ``streams`` (the broker side), ``presence`` (users,
connections, channels), ``bus`` (the subscriber, its backoff and the node's heartbeat),
``lifeline`` (noticing and mending a Redis that lost its data), ``outbox`` (the cluster's
presence transitions for the webhook, and the sender's lease) and ``engine`` (the whole,
started with the node's ``EngineEvents``).

Nodes: each node has an id and a heartbeat key with a TTL of ``node_ttl`` seconds (default
10; the setting ``channelstream.node_ttl``). Activity of a connection attached here records
this node as its holder. The GC pass of any node collects connections whose holder's key
expired, so a node killed with -9 loses its connections' presence within about
``node_ttl + gc_conns_interval`` seconds, and ``parted`` is sent once (leaving a channel is
atomic; passes claim connections briefly so nodes do not repeat each other's work).

Redis failure: calls raise ``redis.exceptions.ConnectionError`` quickly (API calls fail with
an error rather than hang); touches are best-effort so local sockets stay open; ``health()``
answers ok False until the subscriber is back; the subscriber reconnects with backoff and
the node re-syncs its connections (``EngineEvents.on_resubscribed``); GC of idle
connections waits a grace period after an outage so that no node collects connections
whose holders have not had the chance to touch them again.
"""

from channelstream.engine.redis.engine import RedisEngine

__all__ = ["RedisEngine"]
