"""The room actor in cluster mode: this process's members of a room; the room's order lives in Redis.

Contract (what differs from :class:`actors.room.Room`, which it extends):

* **Members**: only the sessions of this process. Who is in the room
  cluster-wide, and the ``join``/``leave`` notices, are Redis's
  (:mod:`cluster.presence` scripts through :class:`cluster.link.RedisLink`):
  a user's first session anywhere gets one ``join``, the last one one ``leave``.
* **Posting**: a message is numbered and published by Redis and stored by
  this process's journal (:class:`cluster.log.ClusterLog`); the sender's
  ``ack`` follows the local commit as in one process. Posts already queued
  in the mailbox behind the one at hand (up to :data:`BURST`) are numbered
  with it in one Redis call and published as one array: the round trip to
  Redis and each subscriber's wake-up are paid once per burst, not once per
  message, which is most of what the cluster mode costs per message. The message itself
  reaches every member, here and elsewhere, the same way: published on the
  room's channel, received by each process's subscriber and delivered here
  in id order once its commit is announced (:class:`actors.messages.Published`).
* **Following**: while it runs, the room follows its channel; it stops
  following when it stops (no member here for ``limits.room_idle_seconds``).
* **Joining** answers through the delivery queue, so that the reply sits
  exactly between the messages delivered before the join and those after;
  with ``since`` it carries what was missed up to the last message queued here.
* **Moderation**: the same checks as in one process on joins and posts;
  an action is carried out on every process from the room's channel, in
  the room's order (:mod:`cluster.moderation`).
* **Private rooms**: the same gate as in one process (:mod:`actors.membership`),
  posts taken in a burst included; membership changes travel as moderation's do.
* **Redis unreachable**: a post is refused with ``unavailable`` (by
  :func:`actors.delivery.store_then_deliver`); so is a join. A member's
  count out of the room is skipped when the subscription was lost since it
  was counted in: coming back undid it already (:meth:`cluster.node.Node.back`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import trio

from actors import membership
from actors.delivery import Delivery, deliver_once_stored, not_appended
from actors.handle import SessionHandle
from actors.messages import (
    ApplyModeration,
    GetMembers,
    JoinRoom,
    LeaveRoom,
    ListMembers,
    PostGroup,
    Published,
    PublishedBatch,
    ReviseMessage,
    RoomMsg,
    SessionGone,
)
from actors.ref import ActorGone, ActorRef
from actors.room import Room
from actors.room_state import Joined, Left
from cluster import posts
from cluster.commits import CommitBoard
from cluster.link import ClusterUnavailable, RedisLink
from cluster.log import ClusterLog
from cluster.moderation import ClusterModerator, action_of
from cluster.revisions import ClusterReviser, event_of
from cluster.subscriber import Subscriber, json_items, notice_of
from storage.interface import Draft, LogClosed, LogUnavailable
from wire import events
from wire.clock import now_ms
from wire.commands import Ref
from wire.events import OutFrame, Recovery
from wire.frames import text_frame
from wire.shapes import User

BURST = 64
"""The most posts numbered in one Redis call: a bound on one publication's size and on the wait of what
queued behind them."""


@dataclass(frozen=True, slots=True)
class ClusterParts:
    """What a cluster room needs besides what every room has."""

    link: RedisLink
    log: ClusterLog
    subscriber: Subscriber
    board: CommitBoard
    counted: dict[tuple[str, str], int] = field(default_factory=dict)
    """(room, session) -> the subscriber's generation its join was counted in; kept here, where it
    outlives a room's restart."""


class ClusterRoom(Room):
    def __init__(self, *args: Any, cluster: ClusterParts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cluster = cluster
        self._channel = cluster.link.room_channel(self.state.info.room_id)
        self._mailbox: trio.MemoryReceiveChannel[RoomMsg] | None = None
        self.moderator = ClusterModerator(
            self.state,
            kwargs.get("moderation"),
            self._delivery,
            self._fan_out,
            link=cluster.link,
            leave=lambda session: self._cluster_leave(session, None, quiet=True),
        )

    async def run(
        self,
        mailbox: trio.MemoryReceiveChannel[RoomMsg],
        ref: ActorRef[RoomMsg] | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> str | None:
        assert ref is not None, "a cluster room is started by the room supervisor, which gives its ref"
        self._mailbox = mailbox
        board = self._cluster.board

        async def route(data: bytes) -> None:
            burst = posts.read(data)
            if burst is None:  # presence notices and moderation actions, as JSON
                for payload in json_items(data):
                    await tell(_notice_or_action(payload))
                return
            # frames ready to send, as they were published: wrapped, not decoded
            first, origin = burst.first, burst.origin
            items = [
                Published(OutFrame(text_frame(frame)), board.expect(first + i, origin), first + i)
                for i, frame in enumerate(burst.frames)
            ]
            await tell(items[0] if len(items) == 1 else PublishedBatch(tuple(items)))

        async def tell(message: RoomMsg) -> None:
            with contextlib.suppress(ActorGone):  # stopped meanwhile: it had nobody to give it to
                await ref.tell(message)

        await self._cluster.subscriber.follow(self._channel, route)
        await self.moderator.reload()  # what was stored elsewhere before we heard the channel
        with contextlib.suppress(ClusterUnavailable):
            # Everything numbered before this is history: a join with ``since`` reads it from the database.
            self._last_queued = max(self._last_queued, await self._cluster.link.last_id())
        try:
            return await super().run(mailbox, ref, task_status=task_status)
        finally:
            with trio.move_on_after(2, shield=True):
                for departure in self._departures.take_all():  # stopping: nobody is left to come back here
                    await self._uncount_departed(departure)
                await self._cluster.subscriber.unfollow(self._channel)

    async def _handle(self, message: RoomMsg) -> None:
        if self.state.moderation.members is not None and membership.outsider(message, self.state):
            return  # a private room, and not a member's message (actors.membership)
        match message:
            case JoinRoom(session, ref, since):
                await self._cluster_join(session, ref, since)
            case LeaveRoom(session, ref):
                await self._cluster_leave(session, ref, quiet=False)
            case SessionGone(session):
                await self._cluster_leave(session, None, quiet=True, linger=session.linger)
            case PostGroup():
                later = await self._cluster_post(message)
                if later is not None:
                    await self._handle(later)
            case ListMembers(session, ref):
                try:
                    users = await self._room_users()
                except ClusterUnavailable:
                    session.deliver(
                        events.error_frame("unavailable", "the online list cannot be read right now", ref)
                    )
                    return
                session.deliver(events.online(users, ref, room_id=self.state.info.room_id))
            case ReviseMessage():
                link = self._cluster.link
                reviser = ClusterReviser(self.state, self._delivery, self._fan_out, self.moderator, link=link)
                await reviser.handle(message)
            case GetMembers(reply):
                try:
                    reply.send(await self._room_users())
                except ClusterUnavailable:
                    reply.send(self.state.online())  # the best this process knows
            case _:
                await super()._handle(message)

    async def _relay_typing(self, session: SessionHandle) -> None:
        """Through the room's channel, to its sessions on every process, in the room's order."""
        room_id = self.state.info.room_id
        typing = {
            "k": "typing",
            "room_id": room_id,
            "user": session.user.to_wire(),
            "skip": session.session_id,
        }
        with contextlib.suppress(ClusterUnavailable):  # a hint: the next one renews it
            await self._cluster.link.publish(self._channel, typing)

    async def _room_users(self) -> list[User]:
        return [
            User(u["user_id"], u["username"])
            for u in await self._cluster.link.room_users(self.state.info.room_id)
        ]

    async def _cluster_post(self, first: PostGroup) -> RoomMsg | None:
        """Number ``first`` and the posts queued right behind it together; the message that ended the burst.

        The burst stops at the first message that is not a post, which the
        caller handles next, so everything keeps its mailbox order. The copy
        to the room (the senders' own sessions included) comes back through
        the channel; the senders' acks follow the local commit, in order.
        The posts are taken out of the mailbox before Redis is asked: if the
        room crashed meanwhile (a bug, not Redis being away, which is an
        ``unavailable`` answer to each), the restarted room would not see
        them, and their senders would get no ack and send them again.
        """
        posts, later = [first], None
        assert self._mailbox is not None
        while len(posts) < BURST:
            try:
                message = self._mailbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if not isinstance(message, PostGroup):
                later = message
                break
            if self.state.moderation.members is None or not membership.outsider(message, self.state):
                posts.append(message)
        room_id = self.state.info.room_id
        taken = []
        for post in posts:
            if not self.state.is_member(post.session.session_id):
                post.session.deliver(
                    events.error_frame("not_in_room", f"join room {room_id} before posting", post.ref)
                )
            elif not self.moderator.refuse_post(post.session, post.ref):  # a muted sender is told why
                taken.append(post)
        if not taken:
            return later
        drafts = [
            Draft(kind="group", sender=p.session.user, content=p.content, room_id=room_id) for p in taken
        ]
        try:
            queued = await self._cluster.log.append_room_burst(room_id, drafts)
        except (LogClosed, LogUnavailable) as refused:
            for post in taken:
                not_appended(refused, post.session, post.ref)
            return later
        for post, (stored, commit) in zip(taken, queued, strict=False):
            await deliver_once_stored(
                self._delivery, stored, commit, post.session, post.ref, post.accepted, None
            )
        closing = LogClosed("the server is shutting down")
        for post in taken[len(queued) :]:
            not_appended(closing, post.session, post.ref)
        return later

    async def _cluster_join(self, session: SessionHandle, ref: Ref, since: int | None) -> None:
        if self.moderator.refuse_join(session, ref):
            return
        room_id, user = self.state.info.room_id, session.user
        outcome = self.state.join(session, recovering=True)
        users: list[User] | None = None
        if outcome is not Joined.AGAIN:
            notice = {
                "k": "notice",
                "event": "join",
                "room_id": room_id,
                "user": user.to_wire(),
                "ts": now_ms(),
                "skip": session.session_id,
            }
            try:
                _, listed = await self._cluster.link.join(room_id, user.to_wire(), notice)
                self._cluster.counted[room_id, session.session_id] = self._cluster.subscriber.generation
            except ClusterUnavailable:
                self.state.leave(session.session_id)
                session.deliver(
                    events.error_frame("unavailable", "joining is not possible right now; try again", ref)
                )
                return
            users = [User(u["user_id"], u["username"]) for u in listed]
        recovery, upto = self._recovery, self._last_queued
        found: list[Recovery] = []

        async def read() -> None:
            nonlocal users
            if users is None:
                with contextlib.suppress(ClusterUnavailable):
                    users = await self._room_users()
            if since is not None and recovery is not None:
                found.append(await recovery.room(room_id, since, upto))

        def reply() -> None:
            listed = users if users is not None else self.state.online()
            session.deliver(events.joined(self._wire_room, listed, ref, found[0] if found else None))
            self.state.go_live(session.session_id)

        await self._delivery.push(Delivery(None, reply, prepare=read))

    async def _cluster_leave(
        self, session: SessionHandle, ref: Ref, *, quiet: bool, linger: float = 0
    ) -> None:
        """Take a session out here, and its count out of Redis: at once, or after its ``linger``.

        A lingering count stays in Redis, so the user stays listed everywhere
        and a session of theirs joining meanwhile (on any process) is no
        first session; when the grace ends the count is taken back, and
        Redis announces ``leave`` only if it was the last one anywhere.
        """
        room_id, user = self.state.info.room_id, session.user
        outcome = self.state.leave(session.session_id)
        if outcome is Left.NOT_MEMBER:
            if not quiet:
                session.deliver(events.error_frame("not_in_room", f"you are not in room {room_id}", ref))
            return
        if not quiet:
            session.deliver(events.left(room_id, ref))
        if (
            self._cluster.counted.pop((room_id, session.session_id), None)
            != self._cluster.subscriber.generation
        ):
            return  # counted in before the subscription was lost: undone since
        if linger > 0:
            self._departures.add(linger, (user, self._cluster.subscriber.generation))
            return
        await self._uncount(user)

    async def _uncount(self, user: User) -> None:
        """Take one session of ``user`` out of the room's count in Redis; ``leave`` if it was the last anywhere."""
        room_id = self.state.info.room_id
        notice = {"k": "notice", "event": "leave", "room_id": room_id, "user": user.to_wire(), "ts": now_ms()}
        with contextlib.suppress(ClusterUnavailable):  # the process undoes its counts once Redis is back
            await self._cluster.link.leave(room_id, user.to_wire(), notice)

    async def _departed(self) -> None:
        for departure in self._departures.due():
            await self._uncount_departed(departure)

    async def _uncount_departed(self, departure: tuple[User, int]) -> None:
        user, generation = departure
        if generation == self._cluster.subscriber.generation:  # else undone when Redis came back
            await self._uncount(user)

    def _fan_out(self, frame: OutFrame, *, skip: str | None = None) -> None:
        """Give a published frame to this process's members; one that is gone leaves through its session."""
        for session_id, session in self.state.members.items():
            if session_id != skip:
                session.deliver(frame)


def _notice_or_action(payload: dict[str, Any]) -> RoomMsg:
    """What a JSON publication on a room's channel asks of the room: a moderation action, or a frame to give out."""
    match payload.get("k"):
        case "moderation":
            return ApplyModeration(action_of(payload))
        case "revision":
            return event_of(payload)
        case "typing":
            user = payload["user"]
            frame = events.typing(User(user["user_id"], user["username"]), room_id=str(payload["room_id"]))
            return Published(frame, None, None, payload.get("skip"))
        case _:
            return Published(notice_of(payload), None, None, payload.get("skip"))
