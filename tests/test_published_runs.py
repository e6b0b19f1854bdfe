"""What a room does with a burst the cluster published (:class:`actors.messages.PublishedBatch`).

In cluster mode a room's posts reach every process as bursts, and the room
hands each member a run of them as one item of its outbox. These tests hold
the commits in the test's hands: a member sees a message only once it is
stored, in id order, a message whose commit failed never, and a notice keeps
its place between the messages.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from actors.journal import BatchCommit
from actors.messages import JoinRoom, Published, PublishedBatch
from actors.published import RUN_BYTES
from actors.rooms import RoomSupervisor
from actors.supervisor import RestartIntensity
from tests.in_memory import HeldLog, Member
from wire import events
from wire.shapes import RoomInfo, StoredMessage, User

BOB = User("bob", "bob")


async def _lookup(room_id: str) -> RoomInfo | None:
    return RoomInfo(room_id, room_id.title(), 0)


def _post(message_id: int, commit: BatchCommit, content: str = "") -> Published:
    stored = StoredMessage(message_id, 0, "group", BOB, content or f"m{message_id}", "r")
    return Published(events.message(stored), commit, message_id)


def _contents(frames: list[dict[str, Any]]) -> list[str]:
    return [f["content"] if f["type"] == "group" else f"{f['type']}:{f['event']}" for f in frames]


async def _room_with(member: Member, nursery: trio.Nursery) -> Any:
    supervisor = RoomSupervisor(
        HeldLog(), _lookup, RestartIntensity(3, 10), mailbox_capacity=8, delivery_capacity=8, idle_seconds=300
    )
    rooms = await nursery.start(supervisor.run)
    ref = await rooms.resolve("r")
    ref.tell_nowait(JoinRoom(member.handle))
    await trio.testing.wait_all_tasks_blocked()
    member.frames()  # the join's reply
    return ref


async def test_a_burst_is_seen_once_stored_in_id_order_and_without_a_message_that_failed() -> None:
    alice = Member("alice")
    async with trio.open_nursery() as nursery:
        ref = await _room_with(alice, nursery)
        commits = [BatchCommit() for _ in range(3)]
        ref.tell_nowait(PublishedBatch(tuple(_post(i + 1, c) for i, c in enumerate(commits))))
        await trio.testing.wait_all_tasks_blocked()
        assert alice.frames() == [], "nothing is stored yet: nothing is shown"
        commits[2].succeed()
        await trio.testing.wait_all_tasks_blocked()
        assert alice.frames() == [], "message 3 waits behind messages 1 and 2"
        commits[0].succeed()
        commits[1].fail("disk full")
        await trio.testing.wait_all_tasks_blocked()
        assert _contents(alice.frames()) == ["m1", "m3"], "stored ones in id order, the failed one never"
        nursery.cancel_scope.cancel()


async def test_a_notice_in_a_burst_keeps_its_place_between_the_messages() -> None:
    alice = Member("alice")
    async with trio.open_nursery() as nursery:
        ref = await _room_with(alice, nursery)
        first, second = BatchCommit(), BatchCommit()
        notice = Published(events.notice("join", "r", User("carol", "carol")), None)
        ref.tell_nowait(PublishedBatch((_post(1, first), notice, _post(2, second))))
        second.succeed()
        await trio.testing.wait_all_tasks_blocked()
        assert alice.frames() == [], "everything waits behind message 1"
        first.succeed()
        await trio.testing.wait_all_tasks_blocked()
        assert _contents(alice.frames()) == ["m1", "system:join", "m2"]
        nursery.cancel_scope.cancel()


async def test_a_burst_larger_than_a_run_reaches_a_member_whole_and_in_order() -> None:
    alice = Member("alice", outbox_capacity=64)
    async with trio.open_nursery() as nursery:
        ref = await _room_with(alice, nursery)
        content = "x" * 3000
        count = 3 * RUN_BYTES // len(content) + 1  # several runs
        commits = [BatchCommit() for _ in range(count)]
        ref.tell_nowait(PublishedBatch(tuple(_post(i + 1, c, content) for i, c in enumerate(commits))))
        for commit in commits:
            commit.succeed()
        await trio.testing.wait_all_tasks_blocked()
        frames = alice.frames()
        assert [f["id"] for f in frames] == list(range(1, count + 1))
        assert all(f["content"] == content for f in frames)
        nursery.cancel_scope.cancel()
