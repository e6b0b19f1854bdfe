"""The room actor: membership, group messages and join/leave notices of one room.

Contract:

* **Actor id** ``room:<room_id>``, supervised by :class:`actors.rooms.RoomSupervisor`.
* **Mailbox** :data:`actors.messages.RoomMsg`, bounded (``room_mailbox`` in config).
* **Out**: frames to member sessions through :class:`actors.handle.SessionHandle`
  (never awaited); drafts to the journal (awaited only when the journal is full).
* **Order**: a group message is appended to the journal, then delivered by the
  room's :class:`actors.delivery.OrderedDelivery` once committed; notices share
  that queue. Every member sees the room's messages in id order.
* **Failure policy**: on a crash the supervisor restarts the room with the same
  mailbox and the same :class:`RoomState` (the roster is plain data that the
  failed code may not have finished updating, so it is re-checked). Members
  stay joined and receive an ``internal`` error telling them that messages in
  flight at the time of the crash may not have been delivered; those messages
  may or may not be in the history, and their senders received no ``ack``.
* **Private rooms**: a non-member's messages are answered ``room_not_found`` (:mod:`actors.membership`).
* **Idle stop**: with an :class:`IdleStop`, a room that has had no member for
  ``seconds`` returns (the supervisor logs ``stopped``) once its mailbox and
  its delivery queue are empty. It leaves its supervisor's table and closes
  its mailbox in the same step in which it decides, so a holder of the old
  ref meets ``ActorGone`` and resolves the room again, which starts a new
  actor. Nothing is lost: messages are in the history and there is no member.

The state change itself lives in :class:`RoomState`, a plain class tested
without tasks or sockets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

import trio

from actors import membership, published
from actors.delivery import Delivery, OrderedDelivery, store_then_deliver
from actors.departures import Departures
from actors.handle import SessionHandle
from actors.latency import LatencyHistogram
from actors.messages import (
    AcceptInvite,
    ApplyModeration,
    DeparturesDue,
    EndSanctions,
    GetMembers,
    JoinRoom,
    LeaveRoom,
    ListMembers,
    ModerateRoom,
    PostGroup,
    Published,
    PublishedBatch,
    RoomMsg,
    RoomTyping,
    SessionGone,
)
from actors.moderator import Moderator
from actors.recovery import RecoverySource
from actors.ref import ActorRef, handle_messages
from actors.revisions import ReviseMessage, Reviser
from actors.room_state import Joined, Left, RoomState
from actors.typing import TypingGate
from storage.interface import Draft, MessageLog, ModerationStore
from wire import events
from wire.commands import Ref
from wire.events import OutFrame, Recovery
from wire.shapes import User


@dataclass(frozen=True, slots=True)
class RoomStats:
    room_id: str
    sessions: int
    online: int
    mailbox_depth: int
    delivery_depth: int


@dataclass(frozen=True, slots=True)
class IdleStop:
    """When a room with no member stops, and how it leaves its supervisor's table.

    ``release`` runs in the very step in which the room decides to stop: True
    means the supervisor no longer hands out this room's ref; False means a
    start of the room is under way, so it stays for another ``seconds``.
    """

    seconds: float
    release: Callable[[], bool]


_BURST = 64  # messages handled after one wait before the room yields (as actors.ref.handle_messages)


class Room:
    """One incarnation of a room actor: the thin loop around :class:`RoomState`."""

    def __init__(
        self,
        state: RoomState,
        journal: MessageLog,
        delivery_capacity: int,
        *,
        restarted: bool,
        latency: LatencyHistogram | None = None,
        idle: IdleStop | None = None,
        recovery: RecoverySource | None = None,
        moderation: ModerationStore | None = None,
    ) -> None:
        self.state = state
        self._recovery = recovery
        self._typing = TypingGate(state)
        self._departures: Departures[Any] = Departures()
        """Users waiting out their grace: their ids here, what to take back from Redis in a cluster room."""
        self._idle = idle
        self._quiet_since: float | None = None  # Trio clock: since when the room has had no member
        self._journal = journal
        self._delivery = OrderedDelivery(delivery_capacity, latency)
        self._moderation = moderation
        self.moderator = Moderator(state, moderation, self._delivery, self._fan_out)
        """Bans on joins, mutes on posts, and the moderators' actions (:mod:`actors.moderator`)."""
        self._restarted = restarted
        self._wire_room = state.info.to_wire()
        self._last_queued = 0  # id of the last published message queued for delivery (cluster mode)

    async def run(
        self,
        mailbox: trio.MemoryReceiveChannel[RoomMsg],
        ref: ActorRef[RoomMsg] | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> str | None:
        """Serve until the mailbox closes (None) or the room stops for idleness (the reason)."""
        reason = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._delivery.run)
            if ref is not None:
                nursery.start_soon(self.moderator.watch, ref)
                nursery.start_soon(self._departures.watch, ref, DeparturesDue())
            if self._restarted:
                self._after_restart()
            task_status.started()
            if self._idle is None:
                await handle_messages(mailbox, self._handle)
            else:
                reason = await self._serve_until_idle(mailbox, self._idle)
            nursery.cancel_scope.cancel()
        return reason

    async def _serve_until_idle(
        self, mailbox: trio.MemoryReceiveChannel[RoomMsg], idle: IdleStop
    ) -> str | None:
        """Handle messages as :func:`handle_messages` does; stop after ``idle.seconds`` without a member.

        The deadline bounds only the wait for the next message, never the
        handling of one. From the check of the mailbox to its closing there
        is no checkpoint, so no message can arrive in between and be dropped.
        """
        self._quiet_since = None if self.state.occupied else trio.current_time()
        try:
            while True:
                deadline = self._idle_deadline(idle.seconds)
                if deadline <= trio.current_time():
                    if not self._delivery.idle:
                        await self._delivery.wait_idle()  # an ack or a notice still on its way
                        continue
                    if self.state.occupied:  # a recovering session went live meanwhile
                        self._quiet_since = None
                        continue
                    waiting = mailbox.statistics()
                    if not waiting.current_buffer_used and not waiting.tasks_waiting_send:
                        if idle.release():
                            mailbox.close()
                            return f"idle: no member for {idle.seconds:g} s"
                        self._quiet_since = trio.current_time()
                        continue
                    deadline = math.inf  # messages arrived just in time: handle them first
                message: RoomMsg | None = None
                with trio.move_on_at(deadline):
                    message = await mailbox.receive()
                if message is None:
                    continue  # the deadline passed: decide at the top
                await self._handle_noting(message)
                for _ in range(_BURST):
                    try:
                        message = mailbox.receive_nowait()
                    except trio.WouldBlock:
                        break
                    await self._handle_noting(message)
        except trio.EndOfChannel:
            return None

    def _idle_deadline(self, seconds: float) -> float:
        return math.inf if self._quiet_since is None else self._quiet_since + seconds

    async def _handle_noting(self, message: RoomMsg) -> None:
        """Handle ``message``, then note since when the room has had no member."""
        await self._handle(message)
        if self.state.occupied:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = trio.current_time()

    async def _handle(self, message: RoomMsg) -> None:
        if self.state.moderation.members is not None and membership.outsider(message, self.state):
            return  # a private room, and not a member's message (actors.membership)
        match message:
            case PostGroup(session, content, ref, accepted):
                await self._post(session, content, ref, accepted)
            case JoinRoom(session, ref, since):
                await self._join(session, ref, since)
            case LeaveRoom(session, ref):
                await self._leave(session, ref)
            case SessionGone(session):
                await self._leave(session, None, quiet=True, linger=session.linger)
            case DeparturesDue():
                await self._departed()
            case ListMembers(session, ref):
                session.deliver(events.online(self.state.online(), ref, room_id=self.state.info.room_id))
            case GetMembers(reply):
                reply.send(self.state.online())
            case ModerateRoom() | EndSanctions():
                await self.moderator.handle(message)
            case ReviseMessage():
                await Reviser(self.state, self._delivery, self._fan_out, self.moderator).handle(message)
            case ApplyModeration(action):
                await self.moderator.apply(action)
            case AcceptInvite():
                await membership.accept(message, self.state, self._moderation, self.moderator)
            case RoomTyping(session, ref):
                if self._typing.admit(session, ref):
                    await self._relay_typing(session)
            case Published():
                self._note_published(message)
                await published.queue_one(self._delivery, message, self._fan_out)
            case PublishedBatch(items):
                for item in items:
                    self._note_published(item)
                await published.queue_burst(self._delivery, items, self._fan_out)
            case _:
                assert_never(message)

    def _note_published(self, item: Published) -> None:
        """Keep the id of the last published message queued here (a join with ``since`` reads up to it)."""
        if item.message_id is not None:
            self._last_queued = max(self._last_queued, item.message_id)

    async def _post(self, session: SessionHandle, content: str, ref: Ref, accepted: float) -> None:
        room_id = self.state.info.room_id
        if not self.state.is_member(session.session_id):
            session.deliver(events.error_frame("not_in_room", f"join room {room_id} before posting", ref))
            return
        if self.moderator.refuse_post(session, ref):
            return
        draft = Draft(kind="group", sender=session.user, content=content, room_id=room_id)
        await store_then_deliver(
            self._journal,
            self._delivery,
            draft,
            session,
            ref,
            accepted,
            lambda frame, _: self._fan_out(frame),
        )

    async def _join(self, session: SessionHandle, ref: Ref, since: int | None) -> None:
        if self.moderator.refuse_join(session, ref):
            return
        recovery = self._recovery
        if since is None or recovery is None:
            outcome = self.state.join(session)
            session.deliver(events.joined(self._wire_room, self.state.online(), ref))
        else:
            outcome = self.state.join(session, recovering=True)
            await self._push_recovery(session, ref, since, recovery)
        if outcome is Joined.FIRST:
            notice = self._notice("join", session.user)
            await self._delivery.push(Delivery(None, lambda: self._fan_out(notice, skip=session.session_id)))

    async def _push_recovery(
        self, session: SessionHandle, ref: Ref, since: int, recovery: RecoverySource
    ) -> None:
        """Queue the reply of a join with ``since`` behind every message handed out so far (see actors.recovery)."""
        room_id, upto = self.state.info.room_id, self._journal.last_id
        found: list[Recovery] = []

        async def read() -> None:
            found.append(await recovery.room(room_id, since, upto))

        def reply() -> None:
            session.deliver(events.joined(self._wire_room, self.state.online(), ref, found[0]))
            self.state.go_live(session.session_id)

        await self._delivery.push(Delivery(None, reply, prepare=read))

    async def _leave(
        self, session: SessionHandle, ref: Ref, *, quiet: bool = False, linger: float = 0
    ) -> None:
        outcome = self.state.leave(session.session_id, linger=linger > 0)
        if outcome is Left.LINGERING:
            self._departures.add(linger, session.user.user_id)
        room_id = self.state.info.room_id
        if not quiet:
            if outcome is Left.NOT_MEMBER:
                session.deliver(events.error_frame("not_in_room", f"you are not in room {room_id}", ref))
                return
            session.deliver(events.left(room_id, ref))
        if outcome is Left.LAST:
            notice = self._notice("leave", session.user)
            await self._delivery.push(Delivery(None, lambda: self._fan_out(notice)))

    async def _relay_typing(self, session: SessionHandle) -> None:
        """Tell the room's other sessions, in the room's order."""
        frame = events.typing(session.user, room_id=self.state.info.room_id)
        await self._delivery.push(Delivery(None, lambda: self._fan_out(frame, skip=session.session_id)))

    async def _departed(self) -> None:
        """Announce the users whose grace ended with no session of theirs back."""
        for user_id in self._departures.due():
            user = self.state.depart(user_id)
            if user is not None:
                await self._announce(self._notice("leave", user))

    async def _announce(self, notice: OutFrame) -> None:
        await self._delivery.push(Delivery(None, lambda: self._fan_out(notice)))

    def _notice(self, event: str, user: User) -> OutFrame:
        return events.notice(event, self.state.info.room_id, user)

    def _fan_out(self, frame: OutFrame, *, skip: str | None = None) -> None:
        """Deliver to every member without waiting; members that are gone are removed."""
        gone = [s for sid, s in self.state.members.items() if sid != skip and not s.deliver(frame)]
        while gone:
            session = gone.pop()
            outcome = self.state.leave(session.session_id, linger=session.linger > 0)
            if outcome is Left.LINGERING:  # it asked for a grace, as its SessionGone would say
                self._departures.add(session.linger, session.user.user_id)
            elif outcome is Left.LAST:
                notice = self._notice("leave", session.user)
                gone.extend(s for s in self.state.members.values() if not s.deliver(notice))

    def _after_restart(self) -> None:
        self.state.check()
        for session_id in list(self.state.recovering):  # their recovery went down with the crash
            self.state.go_live(session_id)
        for user_id in self.state.lingering:  # their grace's timer went down with it: it ends now
            self._departures.add(0, user_id)
        room_id = self.state.info.room_id
        self._fan_out(
            events.error_frame(
                "internal",
                f"room {room_id} restarted after a failure; you are still in it, but messages "
                "sent just before may not have been delivered: reload its history",
            )
        )

    def statistics(self, mailbox_depth: int) -> RoomStats:
        return RoomStats(
            room_id=self.state.info.room_id,
            sessions=len(self.state.members) + len(self.state.recovering),
            online=self.state.online_count,
            mailbox_depth=mailbox_depth,
            delivery_depth=self._delivery.depth,
        )


async def run_room(
    state: RoomState,
    journal: MessageLog,
    delivery_capacity: int,
    incarnations: list[Room],
    mailbox: trio.MemoryReceiveChannel[RoomMsg],
    ref: ActorRef[RoomMsg],
    *,
    latency: LatencyHistogram | None = None,
    idle: IdleStop | None = None,
    recovery: RecoverySource | None = None,
    moderation: ModerationStore | None = None,
    room_class: Callable[..., Room] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> str | None:
    """Supervisor entry point: run one incarnation of the room actor; the reason it stopped."""
    room = (room_class or Room)(
        state,
        journal,
        delivery_capacity,
        restarted=bool(incarnations),
        latency=latency,
        idle=idle,
        recovery=recovery,
        moderation=moderation,
    )
    incarnations.append(room)
    del incarnations[:-1]
    return await room.run(mailbox, ref, task_status=task_status)
