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

A delivery that carries the time its sender's command was accepted
(``accepted``, on the Trio clock) is timed once it has been handed to its
receivers' outboxes: one observation per message, not per receiver. Failed
commits are not observed: nothing was delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from actors.handle import SessionHandle
from actors.latency import LatencyHistogram
from storage.interface import Commit, CommitFailed, Draft, LogClosed, LogUnavailable, MessageLog
from wire import events
from wire.commands import Ref
from wire.events import OutFrame
from wire.shapes import StoredMessage


@dataclass(frozen=True, slots=True)
class Delivery:
    commit: Commit | None
    deliver: Callable[[], None]
    failed: Callable[[], None] | None = None
    accepted: float | None = None  # trio.current_time() when the sender's command was taken
    prepare: Callable[[], Awaitable[None]] | None = None
    """Awaited once everything queued before this item is delivered, just before ``deliver``.

    A recovering join uses it to read the history up to that point, so that
    what it replies and what is delivered live after it meet with no gap and
    no duplicate. It holds up the deliveries behind it while it runs."""


class OrderedDelivery:
    def __init__(self, capacity: int, latency: LatencyHistogram | None = None) -> None:
        self._send, self._receive = trio.open_memory_channel[Delivery](capacity)
        self._latency = latency
        self._unsettled = 0  # pushed, and neither delivered nor failed yet
        self._drained = trio.Event()

    @property
    def depth(self) -> int:
        return self._send.statistics().current_buffer_used

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing waiting for its commit: an actor may stop without losing a delivery."""
        return self._unsettled == 0

    async def wait_idle(self) -> None:
        """Return once everything pushed so far has been delivered (or reported failed)."""
        if self._unsettled:
            await self._drained.wait()

    def _settled(self) -> None:
        self._unsettled -= 1
        if not self._unsettled:
            self._drained.set()
            self._drained = trio.Event()

    def push_nowait(self, delivery: Delivery) -> bool:
        """Queue without waiting; False when the queue is full."""
        try:
            self._send.send_nowait(delivery)
        except trio.WouldBlock:
            return False
        self._unsettled += 1
        return True

    async def push(self, delivery: Delivery) -> None:
        """Queue, waiting only while the queue is full.

        Unlike a channel's ``send`` this does not yield when there is room:
        the actor goes on to its next message, and the deliveries it queues
        meanwhile go out together.
        """
        if not self.push_nowait(delivery):
            self._unsettled += 1
            try:
                await self._send.send(delivery)
            except BaseException:
                self._settled()
                raise

    async def run(self) -> None:
        """Deliver each item once its commit settles, in push order.

        Items whose commit has already settled are delivered in one go,
        without yielding between them. A group commit settles many messages
        at once, so their frames reach every member's outbox together and
        each member's writer wakes once and sends them in one write.
        """
        receive, latency = self._receive, self._latency
        async for item in receive:
            while True:
                if item.commit is not None and not item.commit.settled:
                    await item.commit.wait()
                if item.prepare is not None:
                    await item.prepare()
                if _settle(item) and latency is not None and item.accepted is not None:
                    latency.observe(trio.current_time() - item.accepted)
                self._settled()
                try:
                    item = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break


def _settle(item: Delivery) -> bool:
    """Deliver, or report the failure; True when the item was delivered."""
    if item.commit is not None:
        try:
            item.commit.result()
        except CommitFailed:
            if item.failed is not None:
                item.failed()
            return False
    item.deliver()
    return True


UNAVAILABLE = (
    "messages cannot be ordered right now (the cluster's Redis is unreachable); send it again in a moment"
)


async def store_then_deliver(
    log: MessageLog,
    queue: OrderedDelivery,
    draft: Draft,
    sender: SessionHandle,
    ref: Ref,
    accepted: float,
    fan_out: Callable[[OutFrame, StoredMessage], None],
    *,
    delivered: bool | None = None,
) -> None:
    """The one way a message goes out: stored first, then acknowledged and fanned out in order.

    The draft is appended to the journal (numbered, queued for its group
    commit); once that commit succeeds the sender gets its ``ack`` and
    ``fan_out`` hands the message's frame to everyone who receives it, in
    the queue's order. If the commit fails the sender is told to send it
    again and nobody sees the message. A room and the registry (private
    messages) both publish through here; ``delivered`` is for private acks.
    """
    try:
        stored, commit = await log.append(draft)
    except (LogClosed, LogUnavailable) as refused:
        not_appended(refused, sender, ref)
        return
    await deliver_once_stored(queue, stored, commit, sender, ref, accepted, fan_out, delivered=delivered)


def not_appended(refused: LogClosed | LogUnavailable, sender: SessionHandle, ref: Ref) -> None:
    """Tell the sender why its message was not taken, and that sending it again is the way on."""
    if isinstance(refused, LogClosed):
        sender.deliver(
            events.error_frame("internal", "the server is shutting down; send it again later", ref)
        )
    else:
        sender.deliver(events.error_frame("unavailable", UNAVAILABLE, ref))


async def deliver_once_stored(
    queue: OrderedDelivery,
    stored: StoredMessage,
    commit: Commit,
    sender: SessionHandle,
    ref: Ref,
    accepted: float,
    fan_out: Callable[[OutFrame, StoredMessage], None] | None,
    *,
    delivered: bool | None = None,
) -> None:
    """Queue the sender's ``ack`` and the fan-out of an appended message behind its commit.

    ``fan_out`` None: only the ack (in cluster mode the copies come back through Redis).
    """
    ack = events.ack(stored, ref, delivered=delivered)
    deliver: Callable[[], None]
    if fan_out is None:

        def deliver() -> None:
            sender.deliver(ack)

    else:
        frame, copies = events.message(stored), fan_out

        def deliver() -> None:
            sender.deliver(ack)
            copies(frame, stored)

    def failed() -> None:
        sender.deliver(events.error_frame("internal", "the message could not be stored; send it again", ref))

    await queue.push(Delivery(commit, deliver, failed, accepted))
