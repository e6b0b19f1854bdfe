"""Bounded mailboxes and the references that reach them.

An actor owns the receive end of its mailbox. Everybody else holds an
:class:`ActorRef`, which wraps a clone-free send end: the channel is never
closed by a holder, only by the owner (or when the owner's mailbox is dropped),
so a closed mailbox always means "the actor is gone".

Three ways to send, after pykka and OTP:

* :meth:`ActorRef.tell_nowait` never blocks; a full mailbox raises
  :class:`MailboxFull` so the caller decides what overflow means.
* :meth:`ActorRef.tell` waits for room in the mailbox: this is how
  backpressure travels from a busy actor back to the socket that feeds it.
* :meth:`ActorRef.ask` sends a message carrying a one-shot :class:`Reply` and
  waits for the answer under a deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import trio

M = TypeVar("M")
T = TypeVar("T")


class ActorGone(Exception):
    """The actor behind a ref has stopped; its mailbox is closed."""


class MailboxFull(Exception):
    """``tell_nowait`` found the mailbox at its bound."""


class AskTimeout(Exception):
    """``ask`` got no reply within its deadline."""


class Reply(Generic[T]):
    """A one-shot answer slot carried inside an ``ask`` message.

    The buffer holds exactly one value, so :meth:`send` never blocks the
    actor that answers, even when the asker has already given up.
    """

    __slots__ = ("_receive", "_send")

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[T](1)

    def send(self, value: T) -> None:
        try:
            self._send.send_nowait(value)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # answered twice, or the asker gave up: nobody is listening

    async def receive(self) -> T:
        return await self._receive.receive()


@dataclass(frozen=True, slots=True)
class MailboxStats:
    """How full a mailbox is, for ``statistics()`` and the metrics endpoint."""

    depth: int
    capacity: int


class ActorRef(Generic[M]):
    """The address of one actor: the only thing that crosses actor boundaries."""

    __slots__ = ("_send", "actor_id")

    def __init__(self, actor_id: str, send: trio.MemorySendChannel[M]) -> None:
        self.actor_id = actor_id
        self._send = send

    def __repr__(self) -> str:
        return f"<ActorRef {self.actor_id}>"

    def tell_nowait(self, message: M) -> None:
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            raise MailboxFull(self.actor_id) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorGone(self.actor_id) from None

    async def tell(self, message: M) -> None:
        """Deliver ``message``, waiting only while the mailbox is full.

        When there is room this does not yield to the scheduler: a sender
        with several messages to hand over does so in one step, and the
        receiving actor then handles them in one wake-up.
        """
        try:
            self.tell_nowait(message)
            return
        except MailboxFull:
            pass
        try:
            await self._send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorGone(self.actor_id) from None

    async def ask(self, make: Callable[[Reply[T]], M], timeout: float) -> T:  # noqa: ASYNC109 (ask always has a deadline)
        """Send ``make(reply)`` and wait at most ``timeout`` seconds for the answer."""
        reply: Reply[T] = Reply()
        try:
            with trio.fail_after(timeout):
                await self.tell(make(reply))
                return await reply.receive()
        except trio.TooSlowError:
            raise AskTimeout(self.actor_id) from None

    def stats(self) -> MailboxStats:
        s = self._send.statistics()
        return MailboxStats(depth=s.current_buffer_used, capacity=int(s.max_buffer_size))


async def handle_messages(
    mailbox: trio.MemoryReceiveChannel[M], handle: Callable[[M], Awaitable[None]], *, burst: int = 64
) -> None:
    """Run ``handle`` on every message until the mailbox closes.

    After each wait, up to ``burst`` messages that are already queued are
    handled before the actor yields again. Every switch between tasks costs
    as much as handling a small message, and an actor that handles a run of
    messages also hands their deliveries on together. A message is taken out
    of the mailbox only when it is handled, so the ones still queued when an
    actor crashes are there for its next incarnation.
    """
    async for message in mailbox:
        await handle(message)
        for _ in range(burst):
            try:
                message = mailbox.receive_nowait()
            except trio.WouldBlock:
                break
            except trio.EndOfChannel:
                return
            await handle(message)


def open_mailbox(actor_id: str, capacity: int) -> tuple[ActorRef[M], trio.MemoryReceiveChannel[M]]:
    """Create a bounded mailbox; the caller keeps the receive end and hands out the ref."""
    if capacity < 1:
        raise ValueError(f"mailbox capacity for {actor_id} must be at least 1, got {capacity}")
    send, receive = trio.open_memory_channel[M](capacity)
    return ActorRef(actor_id, send), receive
