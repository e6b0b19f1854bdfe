"""The registry actor: who is connected, and where private messages go.

Contract:

* **Actor id** ``registry``; one per process, started by the composition root.
* **Mailbox** :data:`actors.messages.RegistryMsg`, bounded.
* **State it owns**: every live session, grouped by user (a user may hold
  several sessions), which is also the site-wide online list.
* **Private messages** are appended to the journal here and delivered after
  commit through an :class:`actors.delivery.OrderedDelivery`, to every session
  of the target and of the sender, with the ``ack`` to the sending session.
  Routing between sessions lives only here: a deployment of several server
  processes adds its cross-process hop in this one place.
* **New rooms** (:class:`actors.messages.AnnounceRoom`) are pushed to every
  session as a ``room_created`` event; a process of the cluster passes them
  on to the others first.
* **Read markers** (:class:`actors.messages.ShareReadMarker`) that a
  session moved are pushed to the user's other sessions as ``read_marker``.
* **Block lists** (:mod:`actors.block_lists`): the registry tells the block
  cache which users have a session here (only theirs are kept), drops both
  users' entries on a change (:class:`actors.messages.ShareBlock`) and pushes
  it to the user's other sessions as ``block_changed``. The site-wide online
  list leaves out the users the session's user is blocked by (read by the
  session, so the registry never waits for the database).
* **Invites** to private rooms (:class:`actors.messages.ShareInvite`) are
  pushed to the invitee's sessions as ``invited``.
* **Presence subscriptions** (:mod:`actors.presence_watch`): the sessions'
  ``watch`` of users, answered from here, and ``presence`` pushed to them
  when a watched user's first session comes or last one goes (after the
  grace the session asked for); its index is cleaned when a session ends.
* **Failure policy**: the registry is not restarted; a crash escalates and
  stops the server (its state is the truth about who is connected, and there
  is no way to rebuild it without the sessions reconnecting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

import trio

from actors.block_lists import BlockCache, hide
from actors.delivery import Delivery, OrderedDelivery, store_then_deliver
from actors.handle import SessionHandle
from actors.latency import LatencyHistogram
from actors.logs import supervision_event
from actors.messages import (
    AnnounceRoom,
    CloseAllSessions,
    CloseUserSessions,
    GetOnline,
    ListOnline,
    PingSessions,
    PresenceChanged,
    PresenceDue,
    PrivateTyping,
    PublishedPrivate,
    RegisterSession,
    RegistryMsg,
    RoutePrivate,
    ShareBlock,
    ShareInvite,
    ShareReadMarker,
    SyncPrivate,
    TypingArrived,
    UnregisterSession,
    Watch,
)
from actors.presence_watch import Lingering, PresenceWatch
from actors.recovery import RecoverySource
from actors.ref import ActorRef, handle_messages, open_mailbox
from actors.typing import PeerTypingGate
from storage.interface import Draft, MessageLog
from wire import events
from wire.commands import Ref
from wire.events import OutFrame, Recovery
from wire.shapes import RoomInfo, StoredMessage, User


class Presence:
    """Sessions by user, in order of arrival: the pure core of the registry."""

    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, SessionHandle]] = {}

    def add(self, session: SessionHandle) -> bool:
        """Register a session; True when it is the user's first (they came online)."""
        sessions = self._sessions.setdefault(session.user.user_id, {})
        sessions[session.session_id] = session
        return len(sessions) == 1

    def remove(self, session: SessionHandle) -> bool:
        """Forget a session; True when it was the user's last (they went offline)."""
        sessions = self._sessions.get(session.user.user_id)
        if sessions is None or sessions.pop(session.session_id, None) is None:
            return False
        if sessions:
            return False
        del self._sessions[session.user.user_id]
        return True

    def sessions_of(self, user_id: str) -> list[SessionHandle]:
        return list(self._sessions.get(user_id, {}).values())

    def all_sessions(self) -> list[SessionHandle]:
        return [s for sessions in self._sessions.values() for s in sessions.values()]

    def online(self) -> list[User]:
        return [next(iter(s.values())).user for s in self._sessions.values()]

    @property
    def user_count(self) -> int:
        return len(self._sessions)

    @property
    def session_count(self) -> int:
        return sum(len(s) for s in self._sessions.values())


@dataclass(frozen=True, slots=True)
class RegistryStats:
    users_online: int
    sessions: int
    mailbox_depth: int
    delivery_depth: int
    watching_sessions: int = 0
    watched_users: int = 0


class Registry:
    def __init__(
        self,
        journal: MessageLog,
        delivery_capacity: int,
        latency: LatencyHistogram | None = None,
        recovery: RecoverySource | None = None,
        blocks: BlockCache | None = None,
    ) -> None:
        self.presence = Presence()
        self.watch = PresenceWatch()
        self.lingering = Lingering()
        self._blocks = blocks
        self._typing = PeerTypingGate()  # private typing notices, at most one per session and peer every 2 s
        self._journal = journal
        self._delivery = OrderedDelivery(delivery_capacity, latency)
        self._recovery = recovery
        self._delivered_upto = 0  # id of the last private message handed to its receivers
        self._connected_at: dict[str, int] = {}  # session -> _delivered_upto when it registered
        self.ref: ActorRef[RegistryMsg] | None = None

    async def run(
        self,
        mailbox_capacity: int,
        *,
        task_status: trio.TaskStatus[ActorRef[RegistryMsg]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        ref: ActorRef[RegistryMsg]
        mailbox: trio.MemoryReceiveChannel[RegistryMsg]
        ref, mailbox = open_mailbox("registry", mailbox_capacity)
        self.ref = ref
        supervision_event("registry", "started", parent="root")
        try:
            with mailbox:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._delivery.run)
                    nursery.start_soon(self.lingering.timer.watch, ref, PresenceDue())
                    task_status.started(ref)
                    await handle_messages(mailbox, self._handle)
        except Exception as exc:
            supervision_event("registry", "crashed", parent="root", reason=repr(exc), exc=exc)
            raise
        finally:
            supervision_event("registry", "stopped", parent="root")

    async def _handle(self, message: RegistryMsg) -> None:
        match message:
            case RoutePrivate(session, target, content, ref, accepted):
                await self._route_private(session, target, content, ref, accepted)
            case RegisterSession(session):
                if self.presence.add(session):
                    if self._blocks is not None:
                        self._blocks.present(session.user.user_id)
                    self._came_online(session.user)
                self._connected_at[session.session_id] = self._delivered_upto
            case UnregisterSession(session):
                self._typing.forget(session.session_id)
                self.watch.drop(session)
                if self.presence.remove(session):
                    if self._blocks is not None:
                        self._blocks.absent(session.user.user_id)
                    self._went_offline(session)
                self._connected_at.pop(session.session_id, None)
            case SyncPrivate(session, since, ref):
                await self._sync(session, since, ref)
            case ListOnline(session, ref, hidden):
                session.deliver(events.online(hide(self.presence.online(), hidden), ref))
            case GetOnline(reply):
                reply.send(self.presence.online())
            case CloseAllSessions(code, reason, reply):
                sessions = self.presence.all_sessions()
                for s in sessions:
                    s.close(code, reason)
                reply.send(len(sessions))
            case CloseUserSessions(user_id, token_id, code, reason, here_only):
                await self._close_user_sessions(user_id, token_id, code, reason, here_only=here_only)
            case PingSessions():
                for s in self.presence.all_sessions():
                    s.deliver(events.PING_FRAME)
            case AnnounceRoom(room, here_only):
                await self._announce_room(room, here_only=here_only)
            case ShareReadMarker():
                await self._share_read_marker(message)
            case ShareBlock():
                await self._share_block(message)
            case ShareInvite():
                await self._share_invite(message)
            case PrivateTyping(session, target):
                if self._typing.passes(session.session_id, target.user_id):
                    await self._private_typing(target.user_id, session.user)
            case TypingArrived(user_id, frame):
                self._give_typing(user_id, frame)
            case PublishedPrivate(frame, commit, message_id, user_id):
                await self._delivery.push(
                    Delivery(commit, lambda: self._hand_private(frame, message_id, user_id))
                )
            case Watch():
                await self._watch_presence(message)
            case PresenceChanged(user, online):
                self.watch.changed(user, online)
            case PresenceDue():
                await self._presence_due()
            case _:
                assert_never(message)

    def _came_online(self, user: User) -> None:
        """The user's first session (here; in one process, anywhere): watchers hear it, unless within the grace."""
        if not self.lingering.back(user.user_id):
            self.watch.changed(user, True)

    def _went_offline(self, session: SessionHandle) -> None:
        """The user's last session ended: watchers hear it now, or when the grace it asked for runs out."""
        if session.linger > 0:
            self.lingering.start(session.user, session.linger)
        else:
            self.watch.changed(session.user, False)

    async def _presence_due(self) -> None:
        for user in self.lingering.due():
            if not self.presence.sessions_of(user.user_id):
                self.watch.changed(user, False)

    async def _watch_presence(self, message: Watch) -> None:
        """``watch``: answered with who is online; not done (False) when the user's blockers are not in the cache."""
        hidden: frozenset[str] = frozenset()
        if self._blocks is not None:
            held = self._blocks.get(message.session.user.user_id)
            if held is None:
                message.reply.send(False)
                return
            hidden = held.blocked_by
        online = await self._online_of(self.watch.unknown(message.user_ids))
        self.watch.watch(message.session, message.user_ids, hidden, online, message.ref)
        message.reply.send(True)

    async def _online_of(self, user_ids: list[str]) -> list[User]:
        """Who of ``user_ids`` is online (a user within their grace is)."""
        found = []
        for user_id in user_ids:
            sessions = self.presence.sessions_of(user_id)
            user = sessions[0].user if sessions else self.lingering.get(user_id)
            if user is not None:
                found.append(user)
        return found

    async def _route_private(
        self, session: SessionHandle, target: User, content: str, ref: Ref, accepted: float
    ) -> None:
        delivered = bool(self.presence.sessions_of(target.user_id))
        draft = Draft(kind="private", sender=session.user, content=content, target_id=target.user_id)
        sender_id, target_id = session.user.user_id, target.user_id

        def fan_out(frame: OutFrame, stored: StoredMessage) -> None:
            self._delivered_upto = stored.id
            receivers = self.presence.sessions_of(target_id)
            if sender_id != target_id:
                receivers += self.presence.sessions_of(sender_id)
            for receiver in receivers:
                receiver.deliver(frame)

        await store_then_deliver(
            self._journal, self._delivery, draft, session, ref, accepted, fan_out, delivered=delivered
        )

    async def _close_user_sessions(
        self, user_id: str, token_id: str | None, code: int, reason: str, *, here_only: bool
    ) -> None:
        """Close the user's sessions (of one token, when given) in this process."""
        for s in self.presence.sessions_of(user_id):
            if token_id is None or s.token_id == token_id:
                s.close(code, reason)

    async def _announce_room(self, room: RoomInfo, *, here_only: bool) -> None:
        """Push a new room to every session here: one frame, built once, never awaited per session."""
        frame = events.room_created(room)
        for s in self.presence.all_sessions():
            s.deliver(frame)

    async def _private_typing(self, user_id: str, typist: User) -> None:
        """A typing notice to a private peer: to their sessions (the cluster's registry publishes it too)."""
        self._give_typing(user_id, events.typing(typist))

    def _give_typing(self, user_id: str, frame: OutFrame) -> None:
        for s in self.presence.sessions_of(user_id):
            s.deliver(frame)

    async def _share_read_marker(self, marker: ShareReadMarker) -> None:
        """A moved read marker reaches the user's other sessions here (one frame, never awaited per session)."""
        frame = events.read_marker(marker.up_to, room_id=marker.room_id, peer_id=marker.peer_id)
        for s in self.presence.sessions_of(marker.user_id):
            if s.session_id != marker.skip:
                s.deliver(frame)

    async def _share_block(self, change: ShareBlock) -> None:
        """A block list changed: forget both users' relations here; tell the user's sessions (one frame)."""
        if self._blocks is not None:
            self._blocks.changed(change.user_id, change.peer.user_id)
        self.watch.block_changed(change.user_id, change.peer.user_id, change.blocked)
        if change.notify:
            frame = events.block_changed(change.peer, change.blocked)
            for s in self.presence.sessions_of(change.user_id):
                if s.session_id != change.skip:
                    s.deliver(frame)

    async def _share_invite(self, share: ShareInvite) -> None:
        """An invite to a private room reaches the invitee's sessions here (the cluster's registry publishes it too)."""
        frame = events.encode(share.invite)
        for s in self.presence.sessions_of(share.user_id):
            s.deliver(frame)

    def _hand_private(self, frame: OutFrame, message_id: int, user_id: str) -> None:
        """A private message published on ``user_id``'s channel reaches that user's sessions here."""
        self._delivered_upto = max(self._delivered_upto, message_id)
        for receiver in self.presence.sessions_of(user_id):
            receiver.deliver(frame)

    async def _sync(self, session: SessionHandle, since: int, ref: Ref) -> None:
        """Reply with the user's private messages after ``since``, up to when the session connected.

        Everything after that reaches the session live (it is registered), so
        the reply and the live messages meet with no gap and no duplicate.
        The reply is queued behind the deliveries already pending, so it
        follows them and precedes every later one.
        """
        recovery = self._recovery
        upto = self._connected_at.get(session.session_id)
        if recovery is None or upto is None:
            session.deliver(events.error_frame("internal", "sync is not available; read the history", ref))
            return
        user_id = session.user.user_id
        found: list[Recovery] = []

        async def read() -> None:
            found.append(await recovery.private(user_id, since, upto))

        def reply() -> None:
            session.deliver(events.synced(found[0], ref))

        await self._delivery.push(Delivery(None, reply, prepare=read))

    def statistics(self) -> RegistryStats:
        depth = self.ref.stats().depth if self.ref is not None else 0
        watching = self.watch.statistics()
        return RegistryStats(
            users_online=self.presence.user_count,
            sessions=self.presence.session_count,
            mailbox_depth=depth,
            delivery_depth=self._delivery.depth,
            watching_sessions=watching.watching_sessions,
            watched_users=watching.watched_users,
        )
