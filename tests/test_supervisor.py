"""The actor runtime on Trio's mock clock: mailboxes, restarts, giving up."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from actors.ref import ActorRef, AskTimeout, MailboxFull, Reply, open_mailbox
from actors.supervisor import RestartIntensity, Supervisor, SupervisorGaveUp


async def test_a_mailbox_never_grows_past_its_bound(autojump_clock: trio.testing.MockClock) -> None:
    ref, mailbox = open_mailbox("test", 3)
    for i in range(3):
        ref.tell_nowait(i)
    with pytest.raises(MailboxFull):
        ref.tell_nowait(3)
    assert ref.stats().depth == 3 and ref.stats().capacity == 3
    with trio.move_on_after(1) as blocked:  # tell waits for room instead of growing the mailbox
        await ref.tell(3)
    assert blocked.cancelled_caught and ref.stats().depth == 3
    mailbox.close()


async def test_ask_gives_up_after_its_deadline(autojump_clock: trio.testing.MockClock) -> None:
    ref, mailbox = open_mailbox("silent", 1)
    with pytest.raises(AskTimeout):
        await ref.ask(lambda reply: reply, timeout=5)
    mailbox.close()


async def _crash_on(
    mailbox: trio.MemoryReceiveChannel[object],
    ref: ActorRef[object],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    async for message in mailbox:
        if message == "crash":
            raise RuntimeError("asked to crash")
        assert isinstance(message, Reply)
        message.send("alive")


async def test_a_crashing_child_is_restarted_with_its_mailbox_and_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actors.supervision")
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(Supervisor("sup", RestartIntensity(3, 10)).run)
        ref = await supervisor.start_child("child", _crash_on, 4)
        ref.tell_nowait("crash")
        assert await ref.ask(lambda r: r, timeout=1) == "alive", "the same ref reaches the new incarnation"
        events = [(r.actor, r.event) for r in caplog.records if hasattr(r, "event")]
        assert [e for e in events if e[0] == "child"] == [
            ("child", "started"),
            ("child", "crashed"),
            ("child", "restarted"),
        ]
        crashed = [r for r in caplog.records if getattr(r, "event", None) == "crashed"]
        assert len(crashed) == 1 and crashed[0].exc_info is not None
        assert supervisor.statistics()[0].restarts == 1
        nursery.cancel_scope.cancel()


async def test_past_the_intensity_limit_the_supervisor_gives_up_and_escalates(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.RaisesGroup(SupervisorGaveUp, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            supervisor = await nursery.start(Supervisor("sup", RestartIntensity(2, 10)).run)
            ref = await supervisor.start_child("child", _crash_on, 8)
            for _ in range(3):
                ref.tell_nowait("crash")
            await trio.sleep_forever()
    gave_up = [r for r in caplog.records if getattr(r, "event", None) == "gave_up"]
    assert len(gave_up) == 1 and "3 crashes within 10s" in gave_up[0].reason  # type: ignore[attr-defined]


async def test_crashes_spread_over_time_stay_under_the_limit(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(Supervisor("sup", RestartIntensity(1, 10)).run)
        ref = await supervisor.start_child("child", _crash_on, 4)
        for _ in range(3):
            ref.tell_nowait("crash")
            await trio.sleep(11)  # each crash falls outside the previous one's period
        assert await ref.ask(lambda r: r, timeout=1) == "alive"
        assert supervisor.statistics()[0].restarts == 3
        nursery.cancel_scope.cancel()
