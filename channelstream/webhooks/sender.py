"""The webhook sender: one per node, one of them sending for the whole cluster.

Every ``POLL`` seconds the sender asks the engine's outbox for its lease and the oldest
waiting transitions (at most ``BATCH``), POSTs them as one batch and, on a 2xx answer,
removes them. The first event of a batch thus goes out within ``POLL`` plus the requests
ahead of it. A failed batch (no answer within ``webhook_timeout``, or anything but 2xx) is
sent again, the same events with the same ids, after a backoff that doubles from
``BACKOFF_FIRST`` to ``BACKOFF_MAX``, for ``webhook_retry_for`` seconds; then it is given up
(removed, counted, logged) and the next batch goes. Nothing overtakes a batch being
retried, so batches stay in order. Only transitions the cap dropped meanwhile leave a
retried batch.

The lease lasts ``node_ttl + webhook_timeout`` and is renewed at every look: the sender of
a node that dies is replaced within about that (the waiting transitions are in the outbox,
not in the dead node), and a POST in flight never outlives it. While another node holds
the lease, this sender asks again every ``STANDBY`` seconds.

The sender runs in its own greenlet (a thread in a threaded host, outside the state's guard,
which it takes only around its calls into the engine): a backend that is slow or down
delays nothing but the webhook.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from channelstream.engine.base import OutboxBatch
from channelstream.webhooks import payload
from channelstream.webhooks.post import Answer, Poster

if TYPE_CHECKING:
    from channelstream.concurrency import Job
    from channelstream.state import State

log = logging.getLogger(__name__)

POLL = 0.1
STANDBY = 1.0
BATCH = 100
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0

Post = Callable[[bytes, dict[str, str]], Answer]


class WebhookSender:
    def __init__(
        self,
        state: State,
        post: Post | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = state.settings
        self.state = state
        self.url = settings.webhook_url
        self._poster = Poster(settings.webhook_url, settings.webhook_timeout)
        self.post: Post = post or self._poster
        self.monotonic = monotonic
        self.holder = uuid.uuid4().hex[:16]
        self.lease = settings.node_ttl + settings.webhook_timeout
        self.retry_for = settings.webhook_retry_for
        # Whether this node sends now (it held the lease at its last look).
        self.holding = False
        # The batch in flight: sent again, minus what the cap dropped, until it goes.
        self.batch: OutboxBatch | None = None
        self.attempts = 0
        self.failing_since: float | None = None
        self.retry_at = 0.0
        self._standby_until = 0.0
        self._engine_error = ""
        self._job: Job | None = None
        # What this node's sender did since start: events "sent" and "abandoned", failed
        # POSTs ("failures"); the cluster's totals are in the engine's outbox report.
        self.counts: dict[str, int] = {"sent": 0, "abandoned": 0, "failures": 0}

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._job = self.state.concurrency.every(POLL, self.tick, guarded=False)
        log.info("webhook: presence events go to %s", self.state.settings.redacted()["webhook_url"])

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()
            self._job = None
        self._poster.close()
        if self.holding:
            self.holding = False
            try:
                with self.state.concurrency.guard:
                    self.state.engine.release_outbox(self.holder)
            except Exception as exc:  # the lease then lapses on its own
                log.warning("webhook: lease not released: %s", exc)

    # -- one look at the outbox ------------------------------------------------------
    def tick(self) -> None:
        now = self.monotonic()
        if not self.holding and now < self._standby_until:
            return
        waiting = now < self.retry_at
        try:
            with self.state.concurrency.guard:
                taken = self.state.engine.take_transitions(
                    self.holder, lease=self.lease, limit=0 if waiting else BATCH
                )
        except Exception as exc:
            # The shared state is away (Redis down): said once, then quiet until it is back.
            if not self._engine_error:
                log.warning("webhook: cannot reach the outbox: %s", exc)
            self._engine_error = str(exc) or type(exc).__name__
            return
        if self._engine_error:
            log.info("webhook: the outbox answers again")
            self._engine_error = ""
        if taken is None:
            if self.holding:
                log.info("webhook: another node sends now")
            self.holding, self.batch = False, None
            self._standby_until = now + STANDBY
            return
        if not self.holding:
            log.info("webhook: this node sends (sender %s)", self.holder)
            self.holding = True
        if taken.dropped:
            with self.state.concurrency.guard:
                state = self.state.engine.outbox_state()
            log.warning(
                "webhook: %d oldest pending events dropped (webhook_max_pending = %d), "
                "%d dropped in all",
                taken.dropped,
                self.state.settings.webhook_max_pending,
                state.dropped,
            )
        if waiting:
            return
        batch = self._batch_from(taken)
        if batch is not None:
            self._send(batch, now)

    def _batch_from(self, taken: OutboxBatch) -> OutboxBatch | None:
        current = self.batch
        if current is not None and current.epoch == taken.epoch:
            last = current.transitions[-1].seq
            still = [item for item in taken.transitions if item.seq <= last]
            if still:
                self.batch = OutboxBatch(current.epoch, still, 0)
                return self.batch
        # Nothing in flight, or the cap (or a data loss) took all of it: the next batch.
        self._reset()
        if not taken.transitions:
            return None
        self.batch = OutboxBatch(taken.epoch, taken.transitions, 0)
        return self.batch

    def _reset(self) -> None:
        self.batch, self.attempts, self.failing_since, self.retry_at = None, 0, None, 0.0

    def _send(self, batch: OutboxBatch, now: float) -> None:
        settings = self.state.settings
        wall = self.state.clock()
        body = payload.body(batch, int(wall * 1000))
        answer = self.post(body, payload.headers(settings.webhook_keys, body, int(wall)))
        done = self.state.clock()
        count, last = len(batch.transitions), batch.transitions[-1].seq
        what = f"{count} event{'s' if count != 1 else ''} up to {batch.epoch}-{last}"
        if answer.ok:
            self._settle(batch, {"last_success_ms": _ms(done), "failing_since_ms": ""}, "sent")
            if self.attempts:
                log.info("webhook: delivered %s after %d failed attempts", what, self.attempts)
            self._reset()
            return
        self.attempts += 1
        if self.failing_since is None:
            self.failing_since = now
        error = f"{answer.status} {answer.detail}".strip() if answer.status else answer.detail
        failure = {
            "last_failure_ms": _ms(done),
            "last_error": error[:300],
            "failing_since_ms": _ms(done - (self.monotonic() - self.failing_since)),
        }
        if self.monotonic() - self.failing_since >= self.retry_for:
            log.error(
                "webhook: gave up %s after %d attempts over %.0f s (webhook_retry_for): %s",
                what,
                self.attempts,
                self.retry_for,
                error,
            )
            self._settle(batch, {**failure, "failing_since_ms": ""}, "abandoned", failed=True)
            self._reset()
            return
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.attempts - 1))
        # The last attempt falls at the end of webhook_retry_for, not a backoff beyond it.
        delay = max(0.0, min(delay, self.failing_since + self.retry_for - self.monotonic()))
        self.retry_at = self.monotonic() + delay
        log.warning(
            "webhook: POST of %s failed (%s); attempt %d, again in %.1f s",
            what,
            error,
            self.attempts,
            delay,
        )
        self._report(failure, {"failures": 1})

    def _settle(
        self, batch: OutboxBatch, values: dict[str, str], counter: str, failed: bool = False
    ) -> None:
        """The batch is done with (delivered, or given up): out of the outbox."""
        try:
            with self.state.concurrency.guard:
                self.state.engine.drop_transitions(batch.epoch, batch.transitions[-1].seq)
        except Exception as exc:
            # Left in the outbox, it is sent again: a repeat, never a loss.
            log.warning("webhook: could not remove a delivered batch: %s", exc)
        increments = {counter: len(batch.transitions)}
        if failed:
            increments["failures"] = 1
        self._report(values, increments)

    def _report(self, values: dict[str, str], increments: dict[str, int]) -> None:
        for name, count in increments.items():
            self.counts[name] = self.counts.get(name, 0) + count
        try:
            with self.state.concurrency.guard:
                self.state.engine.report_outbox({"sender": self.holder, **values}, increments)
        except Exception as exc:
            log.debug("webhook: report not kept: %s", exc)


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))
