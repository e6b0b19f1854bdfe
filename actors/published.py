"""What the cluster published to a room, queued for this process's members in the room's order.

In cluster mode a room's messages and notices arrive from Redis
(:mod:`cluster.subscriber`) rather than from the room's own journal. Each
waits in the room's :class:`actors.delivery.OrderedDelivery` for its commit,
announced by the process that stored it, like a local message for its own.

A burst of posts (:class:`actors.messages.PublishedBatch`) is queued as a
few *runs*: each member gets the stored messages of a run as one item of its
outbox, so a member costs one hand-over per run, not one per message, which
is most of what delivering costs per member. A run is at most
:data:`RUN_BYTES`, less than one frame of a message of the longest default
content (4,000 characters: up to 16,000 bytes, more once escaped), so the
outbox's bound in items still bounds its memory as before. A run's messages
wait for their commits in order; one whose commit failed is left out, as it
would be alone. A notice keeps its place between runs.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.delivery import Delivery, OrderedDelivery
from actors.messages import Published
from storage.interface import CommitFailed
from wire.events import OutFrame

RUN_BYTES = 16384
"""The most bytes of published messages a member is given as one item of its outbox."""

FanOut = Callable[..., None]
"""The room's fan-out: ``fan_out(frame, skip=session_id or None)``."""


async def queue_one(delivery: OrderedDelivery, published: Published, fan_out: FanOut) -> None:
    """Queue one published message or notice behind its commit (a notice has none)."""
    frame, skip = published.frame, published.skip
    await delivery.push(Delivery(published.commit, lambda: fan_out(frame, skip=skip)))


async def queue_burst(delivery: OrderedDelivery, items: tuple[Published, ...], fan_out: FanOut) -> None:
    """Queue a burst as runs of messages, each notice alone in its place."""
    run: list[Published] = []
    size = 0
    for item in items:
        if item.commit is None or item.skip is not None:
            await _queue_run(delivery, run, fan_out)
            run, size = [], 0
            await queue_one(delivery, item, fan_out)
            continue
        if run and size + len(item.frame.wire) > RUN_BYTES:
            await _queue_run(delivery, run, fan_out)
            run, size = [], 0
        run.append(item)
        size += len(item.frame.wire)
    await _queue_run(delivery, run, fan_out)


async def _queue_run(delivery: OrderedDelivery, run: list[Published], fan_out: FanOut) -> None:
    if len(run) <= 1:
        for item in run:
            await queue_one(delivery, item, fan_out)
        return
    commits = [item.commit for item in run if item.commit is not None]

    async def stored() -> None:
        for commit in commits:
            if not commit.settled:
                await commit.wait()

    def deliver() -> None:
        wire = b"".join(item.frame.wire for item in run if _stored(item))
        if wire:
            fan_out(OutFrame(wire))

    await delivery.push(Delivery(None, deliver, prepare=stored))


def _stored(item: Published) -> bool:
    """Whether a published message's commit succeeded (it is settled by now)."""
    try:
        if item.commit is not None:
            item.commit.result()
    except CommitFailed:
        return False
    return True
