"""Read markers: how far each user has read each room and private conversation.

Contract:

* **Actor id** ``read_markers``; one per process, started by the composition
  root after storage. Sessions call :meth:`ReadMarkers.mark` directly (it
  only reads the database and updates memory); the actor's one task writes.
* **Coalescing**: a marker that moves is kept in memory and written with
  every other pending one in one transaction each ``flush_interval``
  seconds (sooner when ``max_pending`` are waiting). A client that sends
  ``read`` with every frame it may send makes the server write at most one
  row per room or conversation per interval, never one per frame; a
  ``read`` that does not move the marker writes nothing at all.
* **Never back**: the effective marker is the greatest of what is stored,
  what is pending and what was asked; the store keeps the greater value
  too (:mod:`storage.reads`), so two processes cannot lower each other's.
* **Clamped**: a marker never passes the newest message of its room or
  conversation. Message ids are one counter for every room, so a marker
  beyond the newest id would silently count messages not yet written as
  read; clamping instead of refusing lets a client mark "everything I have"
  without knowing whether something newer arrived meanwhile.
* **Failure policy**: a write that fails is logged once and its markers go
  back into the pending set, to be tried at the next interval. At shutdown
  the composition root calls :meth:`ReadMarkers.flush` before storage
  closes; markers pending when the process dies are lost (at most one
  interval's worth: the client marks again when it next shows the messages).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

import trio

from actors.logs import supervision_event

log = logging.getLogger(__name__)


class ReadState(Protocol):
    @property
    def newest(self) -> int: ...

    @property
    def marker(self) -> int: ...


class ReadMarkerStore(Protocol):
    """What the actor needs of :class:`storage.reads.ReadStore`."""

    async def room_state(self, user_id: str, room_id: str) -> ReadState | None: ...

    async def peer_state(self, user_id: str, peer_id: str) -> ReadState: ...

    async def write_markers(
        self, rooms: dict[tuple[str, str], int], peers: dict[tuple[str, str], int]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Marked:
    """The outcome of a ``read``: the marker now, and whether this call moved it."""

    up_to: int
    moved: bool


class Pending:
    """Markers that moved and are not written yet, by kind, user and room or peer: the pure core."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, int]] = {}
        self.peers: dict[str, dict[str, int]] = {}
        self.count = 0

    def get(self, kind: dict[str, dict[str, int]], user_id: str, target: str) -> int:
        return kind.get(user_id, {}).get(target, 0)

    def raise_to(self, kind: dict[str, dict[str, int]], user_id: str, target: str, up_to: int) -> None:
        mine = kind.setdefault(user_id, {})
        if target not in mine:
            self.count += 1
        mine[target] = max(mine.get(target, 0), up_to)

    def merge(self, other: Pending) -> None:
        """Take back markers whose write failed (keeping any that moved further meanwhile)."""
        for mine, theirs in ((self.rooms, other.rooms), (self.peers, other.peers)):
            for user_id, targets in theirs.items():
                for target, up_to in targets.items():
                    self.raise_to(mine, user_id, target, up_to)

    @staticmethod
    def flat(kind: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
        return {(u, t): n for u, targets in kind.items() for t, n in targets.items()}


Kind = Literal["rooms", "peers"]


def _of(pending: Pending, kind: Kind) -> dict[str, dict[str, int]]:
    return pending.rooms if kind == "rooms" else pending.peers


class ReadMarkers:
    def __init__(
        self, store: ReadMarkerStore, *, flush_interval: float = 1.0, max_pending: int = 5000
    ) -> None:
        self._store = store
        self._interval = flush_interval
        self._max_pending = max_pending
        self._pending = Pending()
        self._writing = Pending()
        """The batch being written: still unwritten for the readers (HTTP, the next ``read``) until it is."""
        self._full = trio.Event()
        self.writes = 0
        """Transactions written so far (the tests' and the metrics' view of the coalescing)."""

    async def mark_room(self, user_id: str, room_id: str, up_to: int) -> Marked | None:
        """Raise the user's marker in the room to ``up_to`` (clamped); None when there is no such room."""
        held = self._unwritten("rooms", user_id, room_id)
        if held and up_to <= held:
            return Marked(held, False)
        state = await self._store.room_state(user_id, room_id)
        if state is None:
            return None
        return self._raise("rooms", user_id, room_id, up_to, state)

    async def mark_peer(self, user_id: str, peer_id: str, up_to: int) -> Marked:
        """Raise the user's marker in the conversation with ``peer_id`` (a user known to exist)."""
        held = self._unwritten("peers", user_id, peer_id)
        if held and up_to <= held:
            return Marked(held, False)
        return self._raise("peers", user_id, peer_id, up_to, await self._store.peer_state(user_id, peer_id))

    def _raise(self, kind: Kind, user_id: str, target: str, up_to: int, state: ReadState) -> Marked:
        # Read again after the await: another session of the user may have moved it meanwhile, and
        # a flush may have taken the pending markers away to write them (so: the current ones).
        current = max(state.marker, self._unwritten(kind, user_id, target))
        wanted = min(up_to, state.newest)
        if wanted <= current:
            return Marked(current, False)
        self._pending.raise_to(_of(self._pending, kind), user_id, target, wanted)
        if self._pending.count >= self._max_pending:
            self._full.set()
        return Marked(wanted, True)

    def _unwritten(self, kind: Kind, user_id: str, target: str) -> int:
        """The marker as far as not written yet: pending, or in the batch being written."""
        return max(_of(p, kind).get(user_id, {}).get(target, 0) for p in (self._pending, self._writing))

    def pending_rooms(self, user_id: str) -> dict[str, int]:
        """The user's room markers not written yet: the HTTP answers add them to what is stored."""
        return self._unwritten_of("rooms", user_id)

    def pending_peers(self, user_id: str) -> dict[str, int]:
        return self._unwritten_of("peers", user_id)

    def _unwritten_of(self, kind: Kind, user_id: str) -> dict[str, int]:
        found = dict(_of(self._writing, kind).get(user_id, {}))
        for target, up_to in _of(self._pending, kind).get(user_id, {}).items():
            found[target] = max(found.get(target, 0), up_to)
        return found

    async def flush(self) -> None:
        """Write every pending marker in one transaction; on failure keep them for the next try."""
        batch, self._pending = self._pending, Pending()
        self._full = trio.Event()
        if not batch.count:
            return
        self._writing = batch
        try:
            await self._store.write_markers(Pending.flat(batch.rooms), Pending.flat(batch.peers))
            self.writes += 1
        except Exception as exc:
            log.warning("could not write %d read markers (%s); trying again", batch.count, type(exc).__name__)
            self._pending.merge(batch)
        finally:
            self._writing = Pending()

    async def run(self, *, task_status: trio.TaskStatus[ReadMarkers] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event("read_markers", "started", parent="root")
        task_status.started(self)
        try:
            while True:
                with trio.move_on_after(self._interval):
                    await self._full.wait()
                await self.flush()
        finally:
            supervision_event("read_markers", "stopped", parent="root")
