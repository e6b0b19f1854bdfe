"""A session's outbox: the frames queued for one client, and their way onto its socket.

Contract:

* **Owner**: the session; rooms, the registry and the heartbeat put frames
  in through the session's :class:`actors.handle.SessionHandle`, never
  waiting (fan-out never awaits a peer).
* **Bounded** (``session_outbox`` in config). A frame that finds it full
  means the client is too slow to keep up: the outbox asks its session to
  close with 1013 (``on_overflow``) and the frame is not queued.
* **Writing** is the writer actor's (:mod:`actors.writer`): the first frame
  of a burst schedules the outbox with it, and on its turn the writer calls
  :meth:`Outbox.flush`, which writes the whole backlog with one system
  call. What the socket does not take is finished by :meth:`Outbox.drain`
  in a task of the writer's; meanwhile the fast path stays off, so frames
  keep their order and are never interleaved.
* **Failure**: a socket found gone ends the session (``on_gone``).

The outbox knows its socket and a function to be scheduled with, nothing of
the session that owns it, and the writer knows outboxes, nothing of
sessions.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from actors.client_socket import ClientSocket, TransportClosed
from wire import close_codes
from wire.events import OutFrame

WRITE_BATCH = 256
"""Most frames one socket write carries; bounds the bytes a single write holds."""


class Outbox:
    __slots__ = (
        "_draining",
        "_on_gone",
        "_on_overflow",
        "_receive",
        "_schedule",
        "_scheduled",
        "_send",
        "_socket",
        "owner",
    )

    def __init__(
        self,
        owner: str,
        socket: ClientSocket,
        capacity: int,
        *,
        schedule: Callable[[Outbox], None],
        on_overflow: Callable[[int, str], None],
        on_gone: Callable[[], None],
    ) -> None:
        self.owner = owner
        """The session's actor id, for the log when writing to it fails."""
        self._socket = socket
        self._send, self._receive = trio.open_memory_channel[OutFrame](capacity)
        self._schedule = schedule
        self._on_overflow = on_overflow
        self._on_gone = on_gone
        self._scheduled = False  # waiting for the writer's next turn
        self._draining = False  # a drain task owns the socket until the outbox is empty

    def put(self, frame: OutFrame) -> bool:
        """Queue one frame; False when the session is gone or too slow (then it is closing with 1013)."""
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            self._on_overflow(close_codes.TOO_SLOW, "outgoing queue overflowed")
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        if not self._scheduled:
            self._scheduled = True
            self._schedule(self)
        return True

    def close(self) -> None:
        """Take no more frames (the session is ending)."""
        self._send.close()

    def crashed(self, code: int, reason: str) -> None:
        """Writing failed unexpectedly: the session closes (1011), nobody else is affected."""
        self._on_overflow(code, reason)

    def _take(self) -> tuple[bytes, bool]:
        """Up to :data:`WRITE_BATCH` queued frames as one write, and whether more wait."""
        receive = self._receive
        wires: list[bytes] = []
        try:
            while len(wires) < WRITE_BATCH:
                wires.append(receive.receive_nowait().wire)
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return b"".join(wires), False
        return b"".join(wires), True

    def flush(self) -> bytes | None:
        """Write the backlog in one go without waiting; return what the socket did not take.

        A session that receives a burst pays for one system call instead of
        one per frame. While a drain owns the socket this does nothing: the
        drain picks up the new frames after the write it is finishing.
        """
        self._scheduled = False
        if self._draining:
            return None
        data, more = self._take()
        if not data:
            return None
        try:
            written = self._socket.write_now(data)
        except TransportClosed:
            self._on_gone()
            return None
        if written < len(data):
            self._draining = True
            return data[written:]
        if more:
            self._scheduled = True
            self._schedule(self)
        return None

    async def drain(self, rest: bytes) -> None:
        """Finish a write the socket took only part of, then everything queued behind it."""
        try:
            while rest:
                await self._socket.send(rest)
                rest, _ = self._take()
        except TransportClosed:
            self._on_gone()
        finally:
            self._draining = False
