"""The chat system: every actor, started in order under one nursery, as one async context manager.

:func:`open_chat_system` is where the actor tree is built (see the README's
picture), for the ``chat-server`` entry point (:func:`web.server.serve`, which
puts HTTP in front of it) and for tests alike:

    async with open_chat_system(config) as system:
        ...  # system.rooms, system.registry_ref, system.journal, ...

It starts, in order: storage, the journal, the registry, the room
supervisor (and the configured rooms), the writer and the heartbeat. If an
actor failure escalates out of its supervisor, the nursery cancels the
block's body too: the caller stops instead of running with dead actors
behind it. On the way out (normal or not) it closes every session with 1001
(:meth:`ChatSystem.close_sessions`, unless the caller did), stops taking
messages, lets the journal store what is pending, and stops the actors.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from actors.heartbeat import run_heartbeat
from actors.journal import Journal
from actors.latency import DeliveryLatency
from actors.logs import supervision_event
from actors.messages import CloseAllSessions, RegistryMsg
from actors.recovery import RecoverySource
from actors.ref import ActorGone, ActorRef, AskTimeout
from actors.registry import Registry
from actors.rooms import RoomSupervisor
from actors.supervisor import RestartIntensity
from actors.writer import Writer
from storage.database import Database, describe_db_url, open_database
from web.config import Config
from wire import close_codes

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ChatSystem:
    """The running actors, and the database they store into."""

    config: Config
    db: Database
    journal: Journal
    registry: Registry
    registry_ref: ActorRef[RegistryMsg]
    rooms: RoomSupervisor
    writer: Writer
    latency: DeliveryLatency

    async def close_sessions(self, reason: str = "server shutting down") -> int:
        """Ask every session to close with 1001; how many there were (0 if the registry is too busy)."""
        try:
            return await self.registry_ref.ask(
                lambda reply: CloseAllSessions(close_codes.GOING_AWAY, reason, reply), 2.0
            )
        except AskTimeout:
            log.warning("the registry did not answer in time; the sessions close with their connections")
            return 0
        except ActorGone:
            return 0  # stopped already (the system is being cancelled): each session sends its own 1001


async def _run_storage(
    db_url: str, *, task_status: trio.TaskStatus[Database] = trio.TASK_STATUS_IGNORED
) -> None:
    """The ``storage`` actor: owns the database connections for the system's lifetime."""
    async with open_database(db_url) as db:
        supervision_event("storage", "started", parent="root", reason=describe_db_url(db_url))
        try:
            task_status.started(db)
            await trio.sleep_forever()
        finally:
            supervision_event("storage", "stopped", parent="root")


@asynccontextmanager
async def open_chat_system(config: Config) -> AsyncIterator[ChatSystem]:
    async with trio.open_nursery() as root:
        db = await root.start(_run_storage, config.db_url)
        journal = await Journal.open(db, max_pending=config.journal_pending)
        await root.start(journal.run)
        latency = DeliveryLatency()
        recovery = RecoverySource(db, config.recovery_messages)
        registry = Registry(journal, config.delivery_queue, latency.private, recovery)
        registry_ref = await root.start(registry.run, config.registry_mailbox)
        rooms = RoomSupervisor(
            journal,
            db.get_room,
            RestartIntensity(config.max_restarts, config.restart_period),
            mailbox_capacity=config.room_mailbox,
            delivery_capacity=config.delivery_queue,
            latency=latency.group,
            idle_seconds=config.room_idle_seconds,
            recovery=recovery,
        )
        await root.start(rooms.run)
        writer = Writer()
        await root.start(writer.run)
        await root.start(run_heartbeat, registry_ref, config.ping_interval)
        for seed in config.rooms:
            await rooms.start(await db.ensure_room(seed.room_id, seed.name))
        system = ChatSystem(config, db, journal, registry, registry_ref, rooms, writer, latency)
        try:
            yield system
        finally:
            with trio.move_on_after(config.shutdown_timeout, shield=True):
                if registry.presence.session_count:
                    await system.close_sessions()
                journal.close()
                await journal.wait_flushed()
            root.cancel_scope.cancel()
