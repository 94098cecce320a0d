"""The webhook: presence transitions of the whole cluster, POSTed to the backend.

The engine records each transition in its outbox in the step that decides it
(``channelstream.engine.base.Outbox``); ``sender`` takes them, one batch at a time, under the
outbox's lease (one sender for the cluster), and POSTs them (``post``) as ``payload`` makes
and signs them. Nothing here runs on the path of a published message: the sender is its own
greenlet (or thread) and the engine's recording is part of calls that happen anyway.
docs/webhooks.md is the contract.
"""
