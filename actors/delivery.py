"""Deliver in commit order: the step between "stored" and "seen".

A room (or the registry, for private messages) must not show a message to
anyone before it is stored, yet must not wait for the database inside its
message loop either. It appends the message to the journal and pushes a
delivery onto this bounded FIFO; a second task of the same actor waits for
each commit in turn and then runs the delivery. The journal commits in append
order and this queue is drained in push order, so every session of a room sees
messages in id order, which is the history's order.

Notices that are not stored (system join/leave) go through the same queue
with no commit to wait for, so they keep their place among the messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio

from storage.interface import Commit, CommitFailed


@dataclass(frozen=True, slots=True)
class Delivery:
    commit: Commit | None
    deliver: Callable[[], None]
    failed: Callable[[], None] | None = None


class OrderedDelivery:
    def __init__(self, capacity: int) -> None:
        self._send, self._receive = trio.open_memory_channel[Delivery](capacity)

    @property
    def depth(self) -> int:
        return self._send.statistics().current_buffer_used

    def push_nowait(self, delivery: Delivery) -> bool:
        """Queue without waiting; False when the queue is full."""
        try:
            self._send.send_nowait(delivery)
        except trio.WouldBlock:
            return False
        return True

    async def push(self, delivery: Delivery) -> None:
        """Queue, waiting only while the queue is full.

        Unlike a channel's ``send`` this does not yield when there is room:
        the actor goes on to its next message, and the deliveries it queues
        meanwhile go out together.
        """
        if not self.push_nowait(delivery):
            await self._send.send(delivery)

    async def run(self) -> None:
        """Deliver each item once its commit settles, in push order.

        Items whose commit has already settled are delivered in one go,
        without yielding between them. A group commit settles many messages
        at once, so their frames reach every member's outbox together and
        each member's writer wakes once and sends them in one write.
        """
        receive = self._receive
        async for item in receive:
            while True:
                if item.commit is not None and not item.commit.settled:
                    await item.commit.wait()
                _settle(item)
                try:
                    item = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break


def _settle(item: Delivery) -> None:
    if item.commit is not None:
        try:
            item.commit.result()
        except CommitFailed:
            if item.failed is not None:
                item.failed()
            return
    item.deliver()
