"""Leaves that wait: a user whose connection dropped is announced gone only if they stay gone.

A reload or a network blip ends a session and a new one starts a moment
later. Announcing every such drop as ``leave`` and the return as ``join``
shows everyone a pair of notices that mean nothing. A client may therefore
ask, when it connects, that a drop of its connection be given a grace
period (``linger``, bounded by the server's ``limits.leave_grace_seconds``):
when its session was the user's last one in a room, the room keeps the
user listed and waits; if a session of theirs joins again meanwhile, nothing
is announced; if not, the room announces exactly one ``leave`` at the end.

Contract:

* **Owner**: one :class:`Departures` per room actor incarnation; only the
  room's own task adds to it and takes from it. Its :meth:`Departures.watch`
  task, in the room's nursery, only tells the room (:class:`actors.messages.DeparturesDue`)
  when the earliest wait has ended. The registry keeps one the same way for
  site-wide presence (:mod:`actors.presence_watch`).
* **Bounded**: one entry per session that ended with ``linger`` while it was
  its user's last in the room; the room's members bound them.
* What a departure carries is the room's: a user id in one process, the
  Redis presence count to take back in the cluster mode (:mod:`cluster.room`).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

import trio

from actors.ref import ActorGone, ActorRef

T = TypeVar("T")
M = TypeVar("M")


class Departures(Generic[T]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # ties keep arrival order; the payloads are never compared
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, seconds: float, departure: T) -> None:
        """Wait ``seconds`` (Trio clock) before ``departure`` is due."""
        heapq.heappush(self._heap, (trio.current_time() + seconds, next(self._order), departure))
        self._signal()

    def due(self) -> list[T]:
        """The departures whose wait has ended, earliest first, taken out."""
        now, out = trio.current_time(), []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        self._signal()
        return out

    def take_all(self) -> list[T]:
        """Every departure still waiting, taken out (the room is stopping)."""
        out = [entry[2] for entry in sorted(self._heap)]
        self._heap.clear()
        self._signal()
        return out

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def watch(self, ref: ActorRef[M], due: M) -> None:
        """Tell the owner (``ref``) ``due`` whenever the earliest departure is due."""
        while True:
            changed = self._changed
            deadline = self._heap[0][0] if self._heap else float("inf")
            with trio.move_on_at(deadline):
                await changed.wait()
                continue
            try:
                await ref.tell(due)
            except ActorGone:
                return
            while self._heap and self._heap[0][0] <= trio.current_time():
                await self._changed.wait()  # until the room has taken what is due
