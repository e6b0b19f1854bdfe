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

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from actors.block_lists import BlockCache, BlockLists
from actors.heartbeat import run_heartbeat
from actors.joined_rooms import JoinedRooms
from actors.journal import Journal
from actors.latency import DeliveryLatency
from actors.logs import supervision_event
from actors.messages import CloseAllSessions, RegistryMsg
from actors.read_markers import ReadMarkers
from actors.recovery import RecoverySource
from actors.ref import ActorGone, ActorRef, AskTimeout, Reply
from actors.registry import Registry
from actors.room import Room
from actors.rooms import RoomSupervisor
from actors.supervisor import RestartIntensity
from actors.writer import Writer
from cluster.commits import CommitBoard
from cluster.link import RedisLink, open_link
from cluster.log import ClusterLog
from cluster.node import Node
from cluster.registry import ClusterRegistry, apply_control
from cluster.room import ClusterParts, ClusterRoom
from cluster.subscriber import Subscriber
from storage.blocks import BlockTable
from storage.database import Database, describe_db_url, open_database
from storage.interface import MessageLog
from storage.revisions import RevisedHistory, RevisionTables
from web.config import Config
from wire import close_codes
from wire.shapes import StoredMessage

log = logging.getLogger(__name__)

ControlListener = Callable[[dict[str, Any]], Awaitable[None]]


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
    link: RedisLink | None = None
    """The cluster's Redis (None: one process, the default)."""
    control_listeners: list[ControlListener] = field(default_factory=list)
    """Called with every order heard on the cluster's control channel (token revocations, ...)."""
    subscriber: Subscriber | None = None
    """The cluster's subscription to Redis (None: one process)."""
    read_markers: ReadMarkers | None = None
    """Read markers, coalesced and written each second (:mod:`actors.read_markers`)."""
    joined_rooms: JoinedRooms | None = None
    """The rooms each user joined, for their next login; coalesced, written each second (:mod:`actors.joined_rooms`)."""
    blocks: BlockLists | None = None
    """Block lists: block, unblock, and each user's relations, kept while they have a session here."""

    def serving(self) -> bool:
        """Whether a session that connects now can be served: false in the cluster mode while the
        subscription to Redis is lost (such a session is closed with 1012 at once), so /healthz
        sends the balancer's new clients to another process meanwhile."""
        return self.subscriber is None or self.subscriber.connected.is_set()

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
    async with AsyncExitStack() as stack:
        link = None
        if config.redis_url is not None:  # opened first, closed last: the actors use it to the end
            link = await stack.enter_async_context(open_link(config.redis_url, config.redis_namespace))
        async with trio.open_nursery() as root:
            async with _actors(config, root, link) as system:
                yield system


@asynccontextmanager
async def _actors(config: Config, root: trio.Nursery, link: RedisLink | None) -> AsyncIterator[ChatSystem]:
    """Start every actor in ``root``; on the way out close the sessions, flush the journal, stop them."""
    db = await root.start(_run_storage, config.db_url)
    db.moderation.rooms_owner = config.rooms_owner  # the configured rooms' owner, if one is configured
    latency = DeliveryLatency()
    history = RevisedHistory(db, RevisionTables(db))  # what a rejoin recovers shows edits and deletes
    recovery = RecoverySource(history, config.recovery_messages, changes=history)
    listeners: list[ControlListener] = []
    if link is None:
        journal = await Journal.open(db, max_pending=config.journal_pending)
        await root.start(journal.run)
        message_log: MessageLog = journal
        block_cache = BlockCache()
        registry = Registry(journal, config.delivery_queue, latency.private, recovery, blocks=block_cache)
        room_class: Callable[..., Room] = Room
    else:
        cluster = await _start_cluster_parts(root, link, db, config, listeners)
        journal, message_log = cluster.journal, cluster.log
        subscriber = cluster.subscriber
        # Block changes arrive on the subscription: none kept while it is lost, none from before a loss.
        block_cache = BlockCache(lambda: subscriber.generation if subscriber.connected.is_set() else None)
        registry = ClusterRegistry(
            message_log,
            config.delivery_queue,
            latency.private,
            recovery,
            blocks=block_cache,
            link=link,
            subscriber=cluster.subscriber,
            board=cluster.board,
        )
        room_class = functools.partial(
            ClusterRoom, cluster=ClusterParts(link, cluster.log, cluster.subscriber, cluster.board)
        )
    registry_ref = await root.start(registry.run, config.registry_mailbox)
    if link is not None:
        cluster.registry_ref = registry_ref
    rooms = RoomSupervisor(
        message_log,
        db.get_room,
        RestartIntensity(config.max_restarts, config.restart_period),
        mailbox_capacity=config.room_mailbox,
        delivery_capacity=config.delivery_queue,
        latency=latency.group,
        idle_seconds=config.room_idle_seconds,
        recovery=recovery,
        room_class=room_class,
        moderation=db.moderation,
    )
    await root.start(rooms.run)
    writer = Writer()
    await root.start(writer.run)
    await root.start(run_heartbeat, registry_ref, config.ping_interval)
    read_markers = await root.start(ReadMarkers(db.reads).run)
    joined_rooms = await root.start(JoinedRooms(db.remembered_rooms).run)
    for seed in config.rooms:
        await rooms.start(await db.ensure_room(seed.room_id, seed.name))
    system = ChatSystem(config, db, journal, registry, registry_ref, rooms, writer, latency, link, listeners)
    system.read_markers = read_markers
    system.joined_rooms = joined_rooms
    system.blocks = BlockLists(BlockTable(db), block_cache, registry_ref, db.get_user, config.blocks_per_user)
    if link is not None:
        system.subscriber = cluster.subscriber
    try:
        yield system
    finally:
        with trio.move_on_after(config.shutdown_timeout, shield=True):
            if registry.presence.session_count:
                await system.close_sessions()
            await read_markers.flush()  # markers still pending, before storage closes
            await joined_rooms.flush()
            journal.close()
            await journal.wait_flushed()
        root.cancel_scope.cancel()


@dataclass(slots=True)
class _ClusterParts:
    journal: Journal
    log: ClusterLog
    subscriber: Subscriber
    board: CommitBoard
    registry_ref: ActorRef[RegistryMsg] | None = None
    """Known once the registry has started; what the subscriber's callbacks reach."""


async def _start_cluster_parts(
    root: trio.Nursery, link: RedisLink, db: Database, config: Config, listeners: list[ControlListener]
) -> _ClusterParts:
    """The Redis side: the journal announcing its commits, the subscriber and the node actor."""
    board = CommitBoard()
    logs: list[ClusterLog] = []

    async def announce(batch: list[StoredMessage], stored: bool) -> None:
        await logs[0].announce(batch, stored)

    journal = await Journal.open(db, max_pending=config.journal_pending, on_batch=announce)
    await root.start(journal.run)
    cluster_log = ClusterLog(link, journal, db)
    logs.append(cluster_log)
    await cluster_log.setup_ids()
    node = Node(link, board, db, cluster_log.in_flight)

    async def on_control(order: dict[str, Any]) -> None:
        if parts.registry_ref is not None:
            await apply_control(parts.registry_ref, order)
        for listener in listeners:
            await listener(order)

    async def on_lost() -> None:
        board.abandon()  # the sessions that would show them are closed below; they recover from the history
        for listener in listeners:  # what was announced meanwhile may be lost: read it again
            try:
                await listener({"order": "resync"})
            except Exception as exc:
                log.warning("could not re-read state after losing Redis: %s: %s", type(exc).__name__, exc)
        if parts.registry_ref is not None:
            with contextlib.suppress(ActorGone):
                await parts.registry_ref.tell(
                    CloseAllSessions(
                        close_codes.SERVICE_RESTART, "the cluster lost Redis: reconnect", Reply()
                    )
                )

    async def on_back() -> None:
        await cluster_log.setup_ids()  # a Redis that restarted has no counter: ids go on from the database
        await node.back()

    subscriber = Subscriber(link, board, on_control=on_control, on_lost=on_lost, on_back=on_back)
    parts = _ClusterParts(journal, cluster_log, subscriber, board)
    await root.start(subscriber.run)
    await root.start(node.run)
    return parts
