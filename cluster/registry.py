"""The registry in cluster mode: this process's sessions; who is online anywhere is Redis's.

Contract (what differs from :class:`actors.registry.Registry`, which it extends):

* **Presence**: each session counts in and out of Redis's site-wide online
  counts (:meth:`cluster.link.RedisLink.online`); online lists are read from
  there, the union over processes, each user once.
* **Following**: while a user has a session here, this process follows the
  user's channel, on which their private messages (to them and from them)
  are published in id order (:class:`cluster.log.ClusterLog`); the
  subscriber hands each to :meth:`actors.registry.Registry` as
  :class:`actors.messages.PublishedPrivate`, delivered once announced stored.
* **Read markers**: one that moved goes to the user's sessions here at
  once, and is published on the user's channel; the other processes that
  follow it give it to theirs.
* **Block lists**: a change is published on the peer's channel, then on the
  user's. Every process that follows either drops both users' relations
  from its block cache (it holds relations only of users it follows, so
  whichever process a sender is on, it hears of every block that concerns
  them), and one that follows the user gives ``block_changed`` to the
  user's sessions there; the peer's channel comes first, so those sessions
  hear of it only once that process has dropped the peer's relations too.
  A user counts as present in the block cache once their channel is
  followed. The online lists leave out the users the asker is blocked by.
* **Invites**: ``invited`` goes to the invitee's sessions here and on
  their channel, for their sessions on the other processes.
* **delivered** in a private ``ack``: the target has a session on any process.
* **Closing a user's sessions** (logout, password change) is published on
  the control channel, so every process closes those it holds; so is a new
  room, so every process pushes it to its sessions.
* **Presence subscriptions**: counting a user's first session anywhere in,
  or their last out, publishes the change on the control channel in the
  same step (one Lua script, so the publications keep the counts' order);
  every process hears each change once and gives it to its own watchers
  (:class:`actors.messages.PresenceChanged`), a dict lookup for users nobody
  watches here. A last session that asked for a grace publishes nothing and
  leaves the user pending in Redis; when the grace runs out, this process
  publishes the going unless a session came back meanwhile, anywhere
  (:meth:`cluster.link.RedisLink.settle_offline`); should it stop first, the
  node actors say it (:meth:`cluster.link.RedisLink.sweep_offline`).
  A reaped process's users go offline the same way. A new ``watch`` reads the
  state of users nobody watched here from Redis (one HMGET).
* **Without its subscription** (Redis lost, and not yet subscribed again)
  the process holds no session: a session that connects meanwhile is
  closed at once with 1012, as the others were, since it could neither
  hear its channels nor be counted online. So is a session whose user's
  place in their channel cannot be read (Redis does not answer): its
  ``sync`` would not know where the history ends and live begins.
* **Counting out**: a session's count out of the online list is skipped
  when the subscription was lost since it was counted in: coming back
  undid it already (:meth:`cluster.node.Node.back`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from actors.block_lists import hide
from actors.delivery import store_then_deliver
from actors.handle import SessionHandle
from actors.messages import (
    AnnounceRoom,
    CloseUserSessions,
    GetOnline,
    ListOnline,
    PresenceChanged,
    PublishedPrivate,
    RegisterSession,
    RegistryMsg,
    RoutePrivate,
    ShareBlock,
    ShareInvite,
    ShareReadMarker,
    TypingArrived,
    UnregisterSession,
)
from actors.ref import ActorGone, ActorRef
from actors.registry import Registry
from cluster.commits import CommitBoard
from cluster.link import ClusterUnavailable, RedisLink
from cluster.subscriber import Subscriber, json_items, message_of
from storage.interface import Draft
from wire import close_codes, events
from wire.events import OutFrame
from wire.shapes import RoomInfo, User


class ClusterRegistry(Registry):
    def __init__(
        self, *args: Any, link: RedisLink, subscriber: Subscriber, board: CommitBoard, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._link = link
        self._subscriber = subscriber
        self._board = board
        self._user_upto: dict[str, int] = {}  # user -> last private id that reached (or passed) them here
        self._counted: dict[str, int] = {}  # session -> the subscriber's generation it was counted online in

    async def _handle(self, message: RegistryMsg) -> None:
        match message:
            case RegisterSession(session) if not self._subscriber.connected.is_set():
                session.close(close_codes.SERVICE_RESTART, "the cluster lost Redis: reconnect in a moment")
            case RegisterSession(session):
                user_id = session.user.user_id
                first = not self.presence.sessions_of(user_id)
                await super()._handle(message)
                if first:
                    await self._follow(user_id)
                    with contextlib.suppress(ClusterUnavailable):
                        # Numbered before this: history (``sync`` reads it); after it: live.
                        self._user_upto[user_id] = await self._link.last_id()
                    if self._blocks is not None:  # followed: the user's block changes reach this process now
                        self._blocks.present(user_id)
                upto = self._user_upto.get(user_id)
                if upto is None:  # its ``sync`` could not tell where the history ends and live begins
                    session.close(close_codes.SERVICE_RESTART, "the cluster cannot reach Redis: reconnect")
                    return
                self._connected_at[session.session_id] = upto
                with contextlib.suppress(ClusterUnavailable):
                    await self._link.online(session.user.to_wire(), +1)
                    self._counted[session.session_id] = self._subscriber.generation
            case UnregisterSession(session):
                await super()._handle(message)
                if self._counted.pop(session.session_id, None) == self._subscriber.generation:
                    with contextlib.suppress(ClusterUnavailable):
                        grace = session.linger
                        if (
                            await self._link.online(session.user.to_wire(), -1, grace=grace) == 0
                            and grace > 0
                        ):
                            self.lingering.start(session.user, grace)
                if not self.presence.sessions_of(session.user.user_id):
                    self._user_upto.pop(session.user.user_id, None)
                    await self._subscriber.unfollow(self._link.user_channel(session.user.user_id))
            case RoutePrivate(session, target, content, ref, accepted):
                await self._cluster_route(session, target, content, ref, accepted)
            case ListOnline(session, ref, hidden):
                try:
                    session.deliver(events.online(hide(await self._online(), hidden), ref))
                except ClusterUnavailable:
                    session.deliver(
                        events.error_frame("unavailable", "the online list cannot be read right now", ref)
                    )
            case GetOnline(reply):
                try:
                    reply.send(await self._online())
                except ClusterUnavailable:
                    reply.send(self.presence.online())
            case _:
                await super()._handle(message)

    def _came_online(self, user: User) -> None:
        """Counting in publishes it (above); every process hears it on the control channel."""

    def _went_offline(self, session: SessionHandle) -> None:
        """Counting out publishes it, or starts the grace (above)."""

    async def _presence_due(self) -> None:
        for user in self.lingering.due():
            with contextlib.suppress(ClusterUnavailable):  # then every session was closed: watchers too
                await self._link.settle_offline(user.to_wire())

    async def _online_of(self, user_ids: list[str]) -> list[User]:
        try:
            return [User(u["user_id"], u["username"]) for u in await self._link.online_of(user_ids)]
        except ClusterUnavailable:
            return await super()._online_of(user_ids)  # the best this process knows

    def _hand_private(self, frame: OutFrame, message_id: int, user_id: str) -> None:
        super()._hand_private(frame, message_id, user_id)
        if user_id in self._user_upto:
            self._user_upto[user_id] = max(self._user_upto[user_id], message_id)

    async def _online(self) -> list[User]:
        return [User(u["user_id"], u["username"]) for u in await self._link.online_users()]

    async def _follow(self, user_id: str) -> None:
        ref, board, node = self.ref, self._board, self._link.node
        assert ref is not None

        async def route(data: bytes) -> None:
            for payload in json_items(data):
                if payload.get("k") == "read":  # a read marker moved on another process
                    if payload.get("origin") != node:
                        with contextlib.suppress(ActorGone):
                            await ref.tell(read_marker_of(user_id, payload))
                    continue
                if payload.get("k") == "block":  # a block list changed on another process
                    if payload.get("origin") != node:
                        with contextlib.suppress(ActorGone):
                            await ref.tell(block_of(user_id, payload))
                    continue
                if payload.get("k") == "invite":  # an invite to a private room, sent on another process
                    if payload.get("origin") != node:
                        with contextlib.suppress(ActorGone):
                            await ref.tell(ShareInvite(user_id, payload["invite"], here_only=True))
                    continue
                if payload.get("k") == "typing":  # a peer types to this user from another process
                    if payload.get("origin") != node:
                        typist = payload["user"]
                        frame = events.typing(User(typist["user_id"], typist["username"]))
                        with contextlib.suppress(ActorGone):
                            await ref.tell(TypingArrived(user_id, frame))
                    continue
                message = message_of(payload)
                commit = board.expect(message.id, str(payload.get("origin", node)))
                with contextlib.suppress(ActorGone):
                    await ref.tell(PublishedPrivate(events.message(message), commit, message.id, user_id))

        await self._subscriber.follow(self._link.user_channel(user_id), route)

    async def _cluster_route(
        self, session: SessionHandle, target: User, content: str, ref: Any, accepted: float
    ) -> None:
        try:
            delivered = await self._link.user_online(target.user_id)
        except ClusterUnavailable:
            session.deliver(
                events.error_frame("unavailable", "messages cannot be ordered right now; send it again", ref)
            )
            return
        draft = Draft(kind="private", sender=session.user, content=content, target_id=target.user_id)
        await store_then_deliver(
            self._journal, self._delivery, draft, session, ref, accepted, _nobody, delivered=delivered
        )

    async def _close_user_sessions(
        self, user_id: str, token_id: str | None, code: int, reason: str, *, here_only: bool
    ) -> None:
        if not here_only:
            order = {
                "order": "close",
                "user_id": user_id,
                "token_id": token_id,
                "code": code,
                "reason": reason,
            }
            try:
                await self._link.publish(self._link.control, order)
                return  # every process, this one included, closes its own on hearing it
            except ClusterUnavailable:
                pass  # at least here; the other processes lost Redis too and closed theirs
        await super()._close_user_sessions(user_id, token_id, code, reason, here_only=True)

    async def _announce_room(self, room: RoomInfo, *, here_only: bool) -> None:
        if not here_only:
            try:
                await self._link.publish(
                    self._link.control, {"order": "room_created", "room": room.to_wire()}
                )
                return  # every process, this one included, pushes it on hearing it
            except ClusterUnavailable:
                pass  # at least here; elsewhere the room list's refresh shows it
        await super()._announce_room(room, here_only=True)

    async def _private_typing(self, user_id: str, typist: User) -> None:
        """Here at once; and on the peer's channel for their sessions on the other processes."""
        await super()._private_typing(user_id, typist)
        payload = {"k": "typing", "origin": self._link.node, "user": typist.to_wire()}
        with contextlib.suppress(ClusterUnavailable):  # a hint: the next one renews it
            await self._link.publish(self._link.user_channel(user_id), payload)

    async def _share_read_marker(self, marker: ShareReadMarker) -> None:
        """Here at once; and on the user's channel for the other processes (this one skips its own)."""
        await super()._share_read_marker(marker)
        if marker.here_only:
            return
        payload: dict[str, Any] = {"k": "read", "origin": self._link.node, "up_to": marker.up_to}
        payload |= {"room_id": marker.room_id} if marker.room_id is not None else {"peer_id": marker.peer_id}
        with contextlib.suppress(ClusterUnavailable):  # the others read the marker over HTTP when they reload
            await self._link.publish(self._link.user_channel(marker.user_id), payload)

    async def _share_block(self, change: ShareBlock) -> None:
        """Here at once; then on the peer's channel and the user's, for the other processes (this one skips its own)."""
        await super()._share_block(change)
        if change.here_only:
            return
        payload: dict[str, Any] = {"k": "block", "origin": self._link.node, "user_id": change.user_id}
        payload |= {"peer": change.peer.to_wire(), "blocked": change.blocked}
        with contextlib.suppress(
            ClusterUnavailable
        ):  # then the others lost Redis too, and their memory with it
            for user_id in (change.peer.user_id, change.user_id):
                await self._link.publish(self._link.user_channel(user_id), payload)

    async def _share_invite(self, share: ShareInvite) -> None:
        """Here at once; and on the invitee's channel for their sessions on the other processes."""
        await super()._share_invite(share)
        if share.here_only:
            return
        payload = {"k": "invite", "origin": self._link.node, "invite": share.invite}
        with contextlib.suppress(ClusterUnavailable):  # the invite is stored: GET /me/invites lists it
            await self._link.publish(self._link.user_channel(share.user_id), payload)


def block_of(channel_user: str, payload: dict[str, Any]) -> ShareBlock:
    """A block change another process published on ``channel_user``'s channel, for this process.

    Only the user's own channel tells their sessions; on the peer's channel it only drops relations.
    """
    user_id, peer = str(payload["user_id"]), payload["peer"]
    target = User(str(peer["user_id"]), str(peer["username"]))
    return ShareBlock(
        user_id, target, bool(payload["blocked"]), here_only=True, notify=channel_user == user_id
    )


def read_marker_of(user_id: str, payload: dict[str, Any]) -> ShareReadMarker:
    """The read marker another process published on ``user_id``'s channel, for this process's sessions."""
    room_id, peer_id = payload.get("room_id"), payload.get("peer_id")
    return ShareReadMarker(
        user_id,
        int(payload["up_to"]),
        None if room_id is None else str(room_id),
        None if peer_id is None else str(peer_id),
        here_only=True,
    )


def _nobody(frame: OutFrame, stored: Any) -> None:
    """Private messages reach their receivers through the users' channels, here as everywhere."""


async def apply_control(registry: ActorRef[RegistryMsg], order: dict[str, Any]) -> None:
    """A control order heard on the cluster's channel, applied to this process's sessions."""
    if order.get("order") == "room_created":
        room = order["room"]
        with contextlib.suppress(ActorGone):
            await registry.tell(
                AnnounceRoom(
                    RoomInfo(str(room["room_id"]), str(room["name"]), int(room["created_at"])), here_only=True
                )
            )
    elif order.get("order") == "presence":
        user = order["user"]
        with contextlib.suppress(ActorGone):
            await registry.tell(
                PresenceChanged(User(str(user["user_id"]), str(user["username"])), bool(order["online"]))
            )
    elif order.get("order") == "close":
        with contextlib.suppress(ActorGone):
            await registry.tell(
                CloseUserSessions(
                    str(order["user_id"]),
                    order.get("token_id"),
                    int(order["code"]),
                    str(order["reason"]),
                    here_only=True,
                )
            )
