"""Delivery in commit order (:mod:`actors.delivery`): nothing is seen before it is stored, and nothing out of order.

The queue runs in a task of the test; commits are :class:`actors.journal.BatchCommit`
objects that the test settles, so every step is decided here, on Trio's mock clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from actors.delivery import Delivery, OrderedDelivery, store_then_deliver
from actors.journal import BatchCommit
from actors.latency import LatencyHistogram
from storage.interface import Commit, Draft, LogClosed
from tests.in_memory import HeldLog, Member
from wire.events import OutFrame
from wire.shapes import StoredMessage


@pytest.fixture
async def queue(nursery: trio.Nursery) -> AsyncIterator[OrderedDelivery]:
    delivery = OrderedDelivery(8)
    nursery.start_soon(delivery.run)
    yield delivery


def _item(seen: list[str], name: str, commit: Commit | None) -> Delivery:
    return Delivery(commit, lambda: seen.append(name), lambda: seen.append(f"{name} failed"))


async def test_each_delivery_waits_for_its_commit(queue: OrderedDelivery) -> None:
    seen: list[str] = []
    commit = BatchCommit()
    await queue.push(_item(seen, "a", commit))
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [], "not stored yet: nobody sees it"
    commit.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == ["a"]


async def test_deliveries_go_out_in_push_order_even_when_a_later_commit_settles_first(
    queue: OrderedDelivery,
) -> None:
    seen: list[str] = []
    first, second = BatchCommit(), BatchCommit()
    await queue.push(_item(seen, "a", first))
    await queue.push(_item(seen, "notice", None))
    await queue.push(_item(seen, "b", second))
    second.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [], "b and the notice wait behind a"
    first.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == ["a", "notice", "b"]


async def test_a_failed_commit_calls_failed_and_not_deliver_and_the_queue_carries_on(
    queue: OrderedDelivery,
) -> None:
    seen: list[str] = []
    lost, kept = BatchCommit(), BatchCommit()
    await queue.push(_item(seen, "a", lost))
    await queue.push(_item(seen, "b", kept))
    lost.fail("OperationalError")
    kept.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == ["a failed", "b"]


async def test_a_failed_commit_without_a_failure_callback_is_dropped_quietly(queue: OrderedDelivery) -> None:
    seen: list[str] = []
    lost = BatchCommit()
    await queue.push(Delivery(lost, lambda: seen.append("a")))
    await queue.push(_item(seen, "b", None))
    lost.fail("OperationalError")
    await trio.testing.wait_all_tasks_blocked()
    assert seen == ["b"]


async def test_a_run_settled_by_one_commit_is_delivered_without_yielding_in_between(
    nursery: trio.Nursery,
) -> None:
    """A group commit settles many messages: all of them reach the outboxes before any other task runs."""
    queue = OrderedDelivery(16)
    nursery.start_soon(queue.run)
    seen: list[str] = []
    first_delivered = trio.Event()
    seen_by_another_task: list[int] = []

    async def look_as_soon_as_the_first_is_delivered() -> None:
        await first_delivered.wait()
        seen_by_another_task.append(len(seen))

    nursery.start_soon(look_as_soon_as_the_first_is_delivered)

    def deliver_the_first() -> None:
        seen.append("0")
        first_delivered.set()

    commit = BatchCommit()
    await queue.push(Delivery(commit, deliver_the_first))
    for n in range(1, 16):
        await queue.push(_item(seen, str(n), commit))
    commit.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [str(n) for n in range(16)]
    assert seen_by_another_task == [16]


async def test_a_full_queue_makes_push_wait_and_push_nowait_refuse(nursery: trio.Nursery) -> None:
    queue = OrderedDelivery(2)
    seen: list[str] = []
    commit = BatchCommit()
    assert queue.push_nowait(_item(seen, "a", commit))
    assert queue.push_nowait(_item(seen, "b", commit))
    assert queue.depth == 2
    assert not queue.push_nowait(_item(seen, "refused", commit))
    pushed = trio.Event()

    async def push_a_third() -> None:
        await queue.push(_item(seen, "c", commit))
        pushed.set()

    nursery.start_soon(push_a_third)
    await trio.testing.wait_all_tasks_blocked()
    assert not pushed.is_set(), "push waits while the queue is full"
    nursery.start_soon(queue.run)
    await trio.testing.wait_all_tasks_blocked()
    assert pushed.is_set(), "the running queue took the first item, making room"
    commit.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == ["a", "b", "c"]


async def test_idle_means_everything_pushed_has_been_delivered_or_failed(queue: OrderedDelivery) -> None:
    assert queue.idle
    with trio.fail_after(1):
        await queue.wait_idle()  # returns at once when idle
    seen: list[str] = []
    stored, lost = BatchCommit(), BatchCommit()
    await queue.push(_item(seen, "a", stored))
    await queue.push(_item(seen, "b", lost))
    await trio.testing.wait_all_tasks_blocked()
    assert not queue.idle, "taken off the queue, but still waiting for its commit"
    stored.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert not queue.idle and seen == ["a"]
    lost.fail("OperationalError")
    await trio.testing.wait_all_tasks_blocked()
    assert queue.idle and seen == ["a", "b failed"]


async def test_wait_idle_returns_once_the_last_delivery_is_out(
    queue: OrderedDelivery, nursery: trio.Nursery
) -> None:
    seen: list[str] = []
    commit = BatchCommit()
    await queue.push(_item(seen, "a", commit))
    idle_after: list[list[str]] = []

    async def wait() -> None:
        await queue.wait_idle()
        idle_after.append(list(seen))

    nursery.start_soon(wait)
    await trio.testing.wait_all_tasks_blocked()
    assert idle_after == []
    commit.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert idle_after == [["a"]]
    await queue.push(_item(seen, "b", None))
    nursery.start_soon(wait)  # a second round: the event is fresh
    await trio.testing.wait_all_tasks_blocked()
    assert idle_after == [["a"], ["a", "b"]]


async def test_latency_is_observed_once_per_delivered_message_from_its_acceptance(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    latency = LatencyHistogram((0.1, 1.0, 10.0))
    queue = OrderedDelivery(8, latency)
    nursery.start_soon(queue.run)
    receivers: list[str] = []

    def fan_out() -> None:
        receivers.extend(["alice", "bob", "carol"])  # three receivers, one message

    accepted = trio.current_time()
    stored, lost = BatchCommit(), BatchCommit()
    await queue.push(Delivery(stored, fan_out, None, accepted))
    await queue.push(Delivery(lost, fan_out, lambda: None, accepted))
    await queue.push(Delivery(None, fan_out))  # a notice: no sender, no acceptance time
    await trio.sleep(0.5)
    stored.succeed()
    lost.fail("OperationalError")
    with trio.fail_after(1):
        await queue.wait_idle()
    snapshot = latency.snapshot()
    assert snapshot.cumulative == (0, 1, 1, 1), "one message observed, in the 1 s bucket"
    assert snapshot.total == pytest.approx(0.5)
    assert len(receivers) == 6


# --- store_then_deliver: the one way a message goes out -----------------------


def _draft(sender: Member, content: str = "hello") -> Draft:
    return Draft(kind="group", sender=sender.user, content=content, room_id="lobby")


async def test_a_stored_message_acks_its_sender_and_then_fans_out(queue: OrderedDelivery) -> None:
    log, alice = HeldLog(), Member("alice")
    sender_had: list[list[str]] = []
    fanned: list[StoredMessage] = []

    def fan_out(frame: OutFrame, stored: StoredMessage) -> None:
        sender_had.append([f["type"] for f in alice.frames()])
        fanned.append(stored)

    await store_then_deliver(log, queue, _draft(alice), alice.handle, "r1", 0.0, fan_out)
    await trio.testing.wait_all_tasks_blocked()
    assert alice.frames() == [] and sender_had == [], "not stored yet: no ack, nobody sees it"
    log.commits[0].succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert sender_had == [["ack"]], "the sender had its ack when the message went out"
    assert [(m.id, m.content, m.room_id) for m in fanned] == [(1, "hello", "lobby")]


async def test_the_ack_names_the_stored_id_and_echoes_the_ref(queue: OrderedDelivery) -> None:
    log, alice = HeldLog(), Member("alice")
    fanned: list[StoredMessage] = []

    def fan_out(frame: OutFrame, stored: StoredMessage) -> None:
        fanned.append(stored)

    await store_then_deliver(log, queue, _draft(alice), alice.handle, "r1", 0.0, fan_out)
    await store_then_deliver(log, queue, _draft(alice), alice.handle, 7, 0.0, fan_out, delivered=False)
    for commit in log.commits:
        commit.succeed()
    await trio.testing.wait_all_tasks_blocked()
    assert alice.frames() == [
        {"type": "ack", "id": 1, "timestamp": 0, "ref": "r1"},
        {"type": "ack", "id": 2, "timestamp": 0, "delivered": False, "ref": 7},
    ]
    assert [m.id for m in fanned] == [1, 2]


async def test_a_message_whose_commit_fails_is_seen_by_nobody_and_its_sender_is_told_to_resend(
    queue: OrderedDelivery,
) -> None:
    log, alice = HeldLog(), Member("alice")
    fanned: list[StoredMessage] = []
    await store_then_deliver(
        log, queue, _draft(alice), alice.handle, "r1", 0.0, lambda _, m: fanned.append(m)
    )
    log.commits[0].fail("OperationalError")
    await trio.testing.wait_all_tasks_blocked()
    assert fanned == []
    [error] = alice.frames()
    assert error["type"] == "error" and error["code"] == "internal" and error["ref"] == "r1"
    assert "send it again" in str(error["message"])


class _ClosedLog:
    """A message log that is shutting down: every append is refused, as :class:`storage.interface.MessageLog` allows."""

    async def append(self, draft: Draft) -> tuple[StoredMessage, Commit]:
        raise LogClosed("the server is shutting down")

    @property
    def last_id(self) -> int:
        return 0


async def test_a_message_sent_while_the_log_is_closing_is_refused_at_once(queue: OrderedDelivery) -> None:
    alice = Member("alice")
    fanned: list[StoredMessage] = []
    await store_then_deliver(
        _ClosedLog(), queue, _draft(alice), alice.handle, "r1", 0.0, lambda _, m: fanned.append(m)
    )
    [error] = alice.frames()
    assert error["code"] == "internal" and error["ref"] == "r1" and "shutting down" in str(error["message"])
    assert queue.idle and fanned == []
