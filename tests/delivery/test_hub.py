"""The hub on its own: routing, batching, offsets and membership, with recording transports
and a schedule the test runs by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channelstream.delivery.hub import DIRECT, Hub
from channelstream.engine.base import Disconnected, Subscribed, Unsubscribed
from channelstream.model.event import Event, EventBatch
from tests.support.memory import RecordingTransport


class ManualSchedule:
    """Flushes only when the test says so."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, flush: Callable[[], None]) -> None:
        self.pending.append(flush)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for flush in pending:
            flush()


class BatchTransport(RecordingTransport):
    """Also keeps the batch objects, to see which ones were shared."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[EventBatch] = []

    def send_batch(self, batch: EventBatch) -> None:
        self.batches.append(batch)
        super().send_batch(batch)


def event(channel: str | None, offset: int, epoch: str = "e", **rules: object) -> Event:
    payload = {"type": "message", "n": offset, "offset": offset, "epoch": epoch}
    return Event(payload, channel=channel, **rules)  # type: ignore[arg-type]


@pytest.fixture
def schedule() -> ManualSchedule:
    return ManualSchedule()


@pytest.fixture
def hub(schedule: ManualSchedule) -> Hub:
    return Hub(schedule=schedule)


def live(hub: Hub, conn_id: str, user: str, channels: set[str], **positions: int) -> BatchTransport:
    transport = BatchTransport()
    known = {name: ("e", offset) for name, offset in positions.items()}
    local = hub.attach(conn_id, user, channels, known, transport)
    hub.release(local)
    return transport


def numbers(transport: RecordingTransport) -> list[int]:
    return [item["n"] for item in transport.received]


def test_a_channels_events_wait_for_the_flush_and_go_out_as_one_shared_batch(
    hub: Hub, schedule: ManualSchedule
) -> None:
    alice = live(hub, "c1", "alice", {"room"})
    bob = live(hub, "c2", "bob", {"room"})
    hub.deliver_event(event("room", 1))
    hub.deliver_event(event("room", 2))
    assert alice.received == [] and len(schedule.pending) == 1  # one flush for both
    schedule.run()
    assert numbers(alice) == numbers(bob) == [1, 2]
    assert alice.batches[0] is bob.batches[0]  # built once, for every member
    assert hub.deliveries == 4


def test_events_of_channels_nobody_here_listens_to_are_dropped(
    hub: Hub, schedule: ManualSchedule
) -> None:
    alice = live(hub, "c1", "alice", {"room"})
    elsewhere = event("elsewhere", 1)
    hub.deliver_event(elsewhere)
    schedule.run()
    assert alice.received == [] and hub.deliveries == 0
    assert hub.listens("room") and not hub.listens("elsewhere")
    assert hub.channel_listeners("room") == 1


def test_delivery_rules_make_a_batch_of_its_own(hub: Hub, schedule: ManualSchedule) -> None:
    alice = live(hub, "c1", "alice", {"room"})
    bob = live(hub, "c2", "bob", {"room"})
    hub.deliver_event(event("room", 1, pm_users=frozenset({"alice", "bob"})))
    hub.deliver_event(event("room", 2, exclude_users=frozenset({"bob"})))
    schedule.run()
    assert numbers(alice) == [1, 2] and numbers(bob) == [1]
    # Bob's positions moved past the event he may not receive.
    assert hub.connections["c2"].positions["room"] == ("e", 2)


def test_offsets_drop_what_a_connection_was_sent(hub: Hub, schedule: ManualSchedule) -> None:
    alice = live(hub, "c1", "alice", {"room"}, room=2)
    for offset in (1, 2, 3):
        hub.deliver_event(event("room", offset))
    schedule.run()
    assert numbers(alice) == [3]
    # Another epoch is another life of the stream: nothing of it was sent.
    hub.deliver_event(event("room", 1, epoch="new"))
    schedule.run()
    assert numbers(alice) == [3, 1]


def test_direct_events_go_at_once_to_every_connection_of_the_user(hub: Hub) -> None:
    first = live(hub, "c1", "alice", set())
    second = live(hub, "c2", "alice", set())
    other = live(hub, "c3", "bob", set())
    hub.deliver_event(event(None, 1, direct_to="alice"))
    assert numbers(first) == numbers(second) == [1] and other.received == []
    assert hub.connections["c1"].positions[DIRECT] == ("e", 1)


def test_live_events_are_held_until_release_then_follow_in_order(
    hub: Hub, schedule: ManualSchedule
) -> None:
    transport = BatchTransport()
    local = hub.attach("c1", "alice", {"room"}, {"room": ("e", 0)}, transport)
    hub.deliver_event(event("room", 1))
    hub.deliver_event(event("room", 2))
    schedule.run()
    assert transport.received == []  # catch-up is being sent
    local.positions["room"] = ("e", 1)  # the catch-up covered offset 1
    hub.release(local)
    assert numbers(transport) == [2]


def test_membership_changes_apply_after_the_events_before_them(
    hub: Hub, schedule: ManualSchedule
) -> None:
    alice = live(hub, "c1", "alice", {"room"})
    hub.deliver_event(event("room", 1))
    hub.apply(Unsubscribed("c1", ("room",)))  # flushes first: event 1 still reaches alice
    hub.deliver_event(event("room", 2))
    schedule.run()
    assert numbers(alice) == [1]
    hub.apply(Subscribed("c1", {"room": ("e", 5)}))
    hub.deliver_event(event("room", 5))  # at or before the join: not this membership's
    hub.deliver_event(event("room", 6))
    schedule.run()
    assert numbers(alice) == [1, 6]


def test_a_subscription_starts_after_the_join_not_at_an_older_position(hub: Hub) -> None:
    alice = live(hub, "c1", "alice", set(), room=1)  # a stale position from before
    hub.apply(Subscribed("c1", {"room": ("e", 9)}))
    assert hub.connections["c1"].positions["room"] == ("e", 9)
    assert alice.received == []


def test_disconnected_closes_and_forgets_the_local_connection(hub: Hub) -> None:
    alice = live(hub, "c1", "alice", {"room"})
    hub.apply(Disconnected("c1"))
    assert alice.closed == (1000, "disconnected")
    assert hub.connections == {} and not hub.listens("room")
    hub.apply(Disconnected("c1"))  # unknown here: nothing happens
    hub.apply(Subscribed("unknown", {"room": ("e", 1)}))
    assert hub.connections == {}


def test_a_second_transport_replaces_the_first(hub: Hub, schedule: ManualSchedule) -> None:
    first = live(hub, "c1", "alice", {"room"})
    second = live(hub, "c1", "alice", {"room"})
    assert first.closed == (1000, "replaced")
    hub.deliver_event(event("room", 1))
    schedule.run()
    assert first.received == [] and numbers(second) == [1]


def test_detach_answers_what_was_sent_and_stops_routing(hub: Hub, schedule: ManualSchedule) -> None:
    transport = live(hub, "c1", "alice", {"room"})
    hub.deliver_event(event("room", 4))
    schedule.run()
    local = hub.connections["c1"]
    assert hub.detach(local)["room"] == ("e", 4)
    hub.deliver_event(event("room", 5))
    schedule.run()
    assert numbers(transport) == [4] and hub.connections == {}
    # Detaching a replaced connection leaves its successor alone.
    successor = live(hub, "c1", "alice", {"room"})
    hub.detach(local)
    assert hub.connections["c1"].transport is successor


def test_a_transport_that_closes_while_the_hub_iterates_is_safe(
    hub: Hub, schedule: ManualSchedule
) -> None:
    class Closing(BatchTransport):
        def send_batch(self, batch: EventBatch) -> None:
            super().send_batch(batch)
            hub.detach(hub.connections["c1"])

    closing = Closing()
    hub.release(hub.attach("c1", "alice", {"room"}, {}, closing))
    other = live(hub, "c2", "bob", {"room"})
    hub.deliver_event(event("room", 1))
    schedule.run()
    assert numbers(closing) == numbers(other) == [1]


def test_close_all_closes_every_transport(hub: Hub) -> None:
    first = live(hub, "c1", "alice", {"room"})
    second = live(hub, "c2", "bob", set())
    hub.close_all(1001, "server shutting down")
    assert first.closed == second.closed == (1001, "server shutting down")


class PollTransport(BatchTransport):
    kind = "longpoll"


def test_figures_count_events_once_and_deliveries_and_frames_per_connection(
    hub: Hub, schedule: ManualSchedule
) -> None:
    live(hub, "c1", "alice", {"room"})
    poll = PollTransport()
    hub.release(hub.attach("c2", "bob", {"room"}, {}, poll))
    hub.deliver_event(event("room", 1))
    hub.deliver_event(event("room", 2))
    hub.deliver_event(event("nobody-here", 1))
    schedule.run()
    # Three events entered the hub; the two of "room" went out as one batch to each socket.
    assert hub.published == 3
    assert hub.deliveries == 4 and hub.longpoll_deliveries == 2
    assert hub.frames_sent == 2
    hub.count_replayed([event("room", 3)], hub.connections["c2"])
    assert hub.deliveries == 5 and hub.longpoll_deliveries == 3


def test_a_users_connections_come_and_go_one_at_a_time(hub: Hub) -> None:
    # One connection of a user is kept alone, several by conn_id: either way direct
    # events reach exactly the attached ones.
    first = live(hub, "c1", "alice", set())
    hub.deliver_event(event(None, 1, direct_to="alice"))
    second = live(hub, "c2", "alice", set())
    third = live(hub, "c3", "alice", set())
    hub.deliver_event(event(None, 2, direct_to="alice"))
    hub.detach(hub.connections["c2"])
    hub.deliver_event(event(None, 3, direct_to="alice"))
    hub.detach(hub.connections["c1"])
    hub.deliver_event(event(None, 4, direct_to="alice"))
    hub.detach(hub.connections["c3"])
    hub.deliver_event(event(None, 5, direct_to="alice"))  # nobody left: nothing, no error
    assert numbers(first) == [1, 2, 3]
    assert numbers(second) == [2]
    assert numbers(third) == [2, 3, 4]
    assert hub.connections == {}


def test_a_connection_in_many_channels_gets_each_and_leaves_each(
    hub: Hub, schedule: ManualSchedule
) -> None:
    names = [f"ch{n}" for n in range(20)]  # past the few kept in a tuple
    transport = live(hub, "c1", "alice", {"ch0"})
    hub.apply(Subscribed("c1", {name: ("e", 0) for name in names}))
    for n, name in enumerate(names, start=1):
        hub.deliver_event(event(name, n))
    schedule.run()
    assert sorted(numbers(transport)) == list(range(1, 21))
    hub.apply(Unsubscribed("c1", names[1:]))
    for n, name in enumerate(names, start=21):
        hub.deliver_event(event(name, n))
    schedule.run()
    assert sorted(numbers(transport))[20:] == [21]  # only ch0 is left
    assert [name for name in names if hub.listens(name)] == ["ch0"]
