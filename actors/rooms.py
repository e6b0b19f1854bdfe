"""The room supervisor: starts room actors on demand and finds them by id.

Contract:

* **Actor id** ``rooms``; child actors ``room:<room_id>``, one_for_one under
  the restart intensity from config (see :mod:`actors.supervisor`).
* **State it owns**: the table ``room_id -> ref``. Sessions and the HTTP API
  call :meth:`RoomSupervisor.resolve`; a room that exists in storage but has
  no actor yet is started on first use, so a server with many quiet rooms does
  not keep a task pair per room.
* **Idle rooms stop**: with ``idle_seconds``, a room that has had no member
  for that long stops (see :class:`actors.room.IdleStop`); it leaves the
  table in the same step, so the next :meth:`RoomSupervisor.resolve` starts
  it again from storage. Configured rooms (the lobby) stop too: everything a
  room holds besides its members is in the database, so keeping one running
  would cost a task pair and buy nothing a client could see.
* Room records (name, creation) are persisted by the web layer before a room
  is resolved; this actor never writes to storage except through the journal.
  It reads a room's roles, mutes and bans (``moderation``) as it starts the
  room's actor, so that the room checks them in memory (:mod:`actors.moderator`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from actors.latency import LatencyHistogram
from actors.messages import RoomMsg
from actors.moderation import Moderation
from actors.recovery import RecoverySource
from actors.ref import ActorRef
from actors.room import IdleStop, Room, RoomStats, run_room
from actors.room_state import RoomState
from actors.supervisor import RestartIntensity, Supervisor
from storage.interface import MessageLog, ModerationStore
from wire.shapes import RoomInfo

RoomLookup = Callable[[str], Awaitable[RoomInfo | None]]


@dataclass(slots=True)
class _Entry:
    ref: ActorRef[RoomMsg]
    state: RoomState
    incarnations: list[Room]


class RoomSupervisor:
    def __init__(
        self,
        journal: MessageLog,
        lookup: RoomLookup,
        intensity: RestartIntensity,
        *,
        mailbox_capacity: int,
        delivery_capacity: int,
        latency: LatencyHistogram | None = None,
        idle_seconds: float | None = None,
        recovery: RecoverySource | None = None,
        room_class: Callable[..., Room] = Room,
        moderation: ModerationStore | None = None,
    ) -> None:
        self._moderation = moderation  # roles and sanctions, loaded by each room as it starts
        self._room_class = room_class  # the cluster mode's rooms are a subclass (cluster.room)
        self._journal = journal
        self._recovery = recovery  # for joins with ``since``; None: such joins are plain joins
        self._idle_seconds = idle_seconds  # None: rooms never stop
        self._lookup = lookup
        self._supervisor = Supervisor("rooms", intensity, parent="root")
        self._mailbox_capacity = mailbox_capacity
        self._delivery_capacity = delivery_capacity
        self._latency = latency  # send-to-deliver of group messages, shared by every room
        self._rooms: dict[str, _Entry] = {}
        self._starting: dict[str, trio.Event] = {}

    async def run(self, *, task_status: trio.TaskStatus[RoomSupervisor] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._supervisor.run)
            task_status.started(self)

    def get(self, room_id: str) -> ActorRef[RoomMsg] | None:
        """The ref of a running room, without touching storage."""
        entry = self._rooms.get(room_id)
        return None if entry is None else entry.ref

    async def resolve(self, room_id: str) -> ActorRef[RoomMsg] | None:
        """The room's ref, starting its actor if the room exists; None for an unknown room."""
        while True:
            entry = self._rooms.get(room_id)
            if entry is not None:
                return entry.ref
            starting = self._starting.get(room_id)
            if starting is None:
                break
            await starting.wait()
        info = await self._lookup(room_id)
        if info is None:
            return None
        return await self.start(info)

    async def start(self, info: RoomInfo) -> ActorRef[RoomMsg]:
        while True:
            entry = self._rooms.get(info.room_id)
            if entry is not None:
                return entry.ref
            starting = self._starting.get(info.room_id)
            if starting is None:
                break
            await starting.wait()
        self._starting[info.room_id] = done = trio.Event()
        try:
            state = RoomState(info)
            if self._moderation is not None:
                state.moderation = Moderation(await self._moderation.load(info.room_id))
            incarnations: list[Room] = []
            idle = None
            if self._idle_seconds is not None:
                idle = IdleStop(self._idle_seconds, functools.partial(self._release, info.room_id, state))
            child = functools.partial(
                run_room,
                state,
                self._journal,
                self._delivery_capacity,
                incarnations,
                latency=self._latency,
                idle=idle,
                recovery=self._recovery,
                moderation=self._moderation,
                room_class=self._room_class,
            )
            ref = await self._supervisor.start_child(f"room:{info.room_id}", child, self._mailbox_capacity)
            self._rooms[info.room_id] = _Entry(ref, state, incarnations)
            return ref
        finally:
            del self._starting[info.room_id]
            done.set()

    def _release(self, room_id: str, state: RoomState) -> bool:
        """A room decided to stop: forget it, unless its start is still being registered."""
        if room_id in self._starting:
            return False
        entry = self._rooms.get(room_id)
        if entry is not None and entry.state is state:
            del self._rooms[room_id]
        return True

    def online_count(self, room_id: str) -> int:
        entry = self._rooms.get(room_id)
        return 0 if entry is None else entry.state.online_count

    def statistics(self) -> list[RoomStats]:
        out = []
        for entry in self._rooms.values():
            depth = entry.ref.stats().depth
            if entry.incarnations:
                out.append(entry.incarnations[-1].statistics(depth))
        return out

    def restarts(self) -> int:
        """Room restarts since start-up; rooms that stopped since still count."""
        return self._supervisor.restarts_total
