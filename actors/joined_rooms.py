"""Joined rooms remembered per user, so that the next login (another tab, device or day) rejoins them.

Contract:

* **Actor id** ``joined_rooms``; one per process, started by the composition
  root after storage. Sessions call :meth:`JoinedRooms.note` when their
  client joins or leaves a room (an existing one): it only updates memory
  and never waits. The actor's one task writes.
* **What counts**: the client's own ``join`` and ``leave`` commands. A
  disconnect leaves the rooms for the protocol but not for the memory: the
  user means to be back in them at the next login.
* **Coalescing**: changes wait in memory, the latest per (user, room), and
  are written together in one transaction each ``flush_interval`` seconds
  (sooner when ``max_pending`` are waiting). A reconnect that rejoins ten
  rooms, or a client that joins and leaves in a loop, costs one row per
  room per interval.
* **Newer wins**: each change carries its time (ms); the store keeps the
  newer of what it has and what is written (:mod:`storage.remembered_rooms`),
  and :meth:`pending_of` lets the HTTP answers of this process add what is
  not written yet.
* **Failure policy**: a write that fails is logged once and its changes go
  back into the pending set (unless a newer change for the same room
  arrived meanwhile), to be tried at the next interval. At shutdown the
  composition root calls :meth:`JoinedRooms.flush` before storage closes;
  changes pending when the process dies are lost (at most one interval).
"""

from __future__ import annotations

import logging
from typing import Protocol

import trio

from actors.logs import supervision_event
from wire.clock import now_ms

log = logging.getLogger(__name__)

Change = tuple[bool, int]
"""Joined (True) or left, and when (ms since the epoch)."""


class RememberedRoomsStore(Protocol):
    """What the actor needs of :class:`storage.remembered_rooms.RememberedRooms`."""

    async def write(self, changes: dict[tuple[str, str], Change]) -> None: ...


class JoinedRooms:
    def __init__(
        self, store: RememberedRoomsStore, *, flush_interval: float = 1.0, max_pending: int = 5000
    ) -> None:
        self._store = store
        self._interval = flush_interval
        self._max_pending = max_pending
        self._pending: dict[tuple[str, str], Change] = {}
        self._by_user: dict[str, set[str]] = {}
        self._writing: dict[tuple[str, str], Change] = {}
        """The batch being written: still unwritten for ``pending_of`` until it is stored."""
        self._due = trio.Event()
        self.writes = 0
        """Transactions written so far (the tests' view of the coalescing)."""

    def note(self, user_id: str, room_id: str, joined: bool) -> None:
        """The user joined (or left) the room: remember it for their next login. Never waits."""
        self._keep((user_id, room_id), (joined, now_ms()))
        if len(self._pending) >= self._max_pending:
            self._due.set()

    def pending_of(self, user_id: str) -> dict[str, Change]:
        """The user's changes not written yet, ``room_id -> (joined, at)``, the batch being written included."""
        found = {room_id: change for (user, room_id), change in self._writing.items() if user == user_id}
        for room_id in self._by_user.get(user_id, ()):
            change = self._pending[(user_id, room_id)]
            if room_id not in found or found[room_id][1] <= change[1]:
                found[room_id] = change
        return found

    def _keep(self, key: tuple[str, str], change: Change) -> None:
        held = self._pending.get(key)
        if held is None or held[1] <= change[1]:
            self._pending[key] = change
            self._by_user.setdefault(key[0], set()).add(key[1])

    async def flush(self) -> None:
        """Write every pending change in one transaction; on failure keep them for the next try."""
        batch, self._pending, self._by_user = self._pending, {}, {}
        self._due = trio.Event()
        if not batch:
            return
        self._writing = batch
        try:
            await self._store.write(batch)
            self.writes += 1
        except Exception as exc:
            log.warning("could not write %d joined rooms (%s); trying again", len(batch), type(exc).__name__)
            for key, change in batch.items():
                self._keep(key, change)
        finally:
            self._writing = {}

    async def run(self, *, task_status: trio.TaskStatus[JoinedRooms] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event("joined_rooms", "started", parent="root")
        task_status.started(self)
        try:
            while True:
                with trio.move_on_after(self._interval):
                    await self._due.wait()
                await self.flush()
        finally:
            supervision_event("joined_rooms", "stopped", parent="root")
