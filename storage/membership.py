"""Private rooms: which rooms are private, their members and their pending invites.

Three tables (:mod:`storage.models`): ``private_rooms`` (a row makes a room
private; none: public, as every room made before), ``room_members`` and
``room_invites``. A private room's creator is its first member, entered in
the transaction that creates the room (:func:`enter_private`), so the room
is never listed to anyone else, not even for a moment.

Who may see a room is decided here, in SQL, for the HTTP API: the room
list (:func:`visible_rooms`), a room's details, history, online list and
moderation log (:meth:`MembershipTables.visible`). A room actor reads its
member set once, when it starts (:func:`member_ids`, through
:meth:`storage.moderation.ModerationTables.load`), and keeps it current as
members change, so its join check costs no query.

Bounds: a private room has at most :data:`storage.interface.MEMBERS_MAX`
members, a user at most :data:`storage.interface.INVITES_PER_USER` pending invites.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from storage.bridge import AsyncioBridge
from storage.dialects import NUL
from storage.interface import INVITES_PER_USER, MEMBERS_MAX, Invite, InviteOutcome, ModerationAction
from storage.models import (
    ModerationLogRow,
    PrivateRoomRow,
    RoomInviteRow,
    RoomMemberRow,
    RoomRow,
    RoomSanctionRow,
)
from storage.usernames import names_by_id
from wire.clock import now_ms
from wire.shapes import RoomInfo, User


def member_id(room_id: str, user_id: str) -> str:
    return f"{room_id}:{user_id}"


def _info(row: RoomRow, private: bool) -> RoomInfo:
    return RoomInfo(row.id, row.name, row.created_at, "private" if private else "public")


async def room_of(room_id: str) -> RoomInfo | None:
    """The room with its visibility (asyncio side), or None."""
    row = await RoomRow.filter(id=room_id).first()
    if row is None:
        return None
    return _info(row, await PrivateRoomRow.filter(room_id=room_id).exists())


async def infos(rows: list[RoomRow]) -> list[RoomInfo]:
    """The rooms of ``rows`` with their visibility (asyncio side)."""
    ids = [r.id for r in rows]
    found = await PrivateRoomRow.filter(room_id__in=ids).values_list("room_id", flat=True) if ids else []
    private = {str(room_id) for room_id in found}
    return [_info(r, r.id in private) for r in rows]


def visible_to(viewer: str | None) -> Q:
    """The rooms ``viewer`` may see: every public room, and the private ones they are a member of."""
    public = Q(id__not_in=Subquery(PrivateRoomRow.all().values("room_id")))
    if viewer is None:
        return public
    return public | Q(id__in=Subquery(RoomMemberRow.filter(user_id=viewer).values("room_id")))


async def enter_private(room: RoomInfo, created_by: str | None, connection: Any) -> None:
    """Mark a new room private and make its creator its first member, in the creating transaction."""
    await PrivateRoomRow.create(room_id=room.room_id, created_at=room.created_at, using_db=connection)
    if created_by is not None:
        await RoomMemberRow.create(
            id=member_id(room.room_id, created_by),
            room_id=room.room_id,
            user_id=created_by,
            added_by=created_by,
            added_at=room.created_at,
            using_db=connection,
        )


async def member_ids(room_id: str) -> frozenset[str] | None:
    """A private room's members (asyncio side); None for a public room."""
    if not await PrivateRoomRow.filter(room_id=room_id).exists():
        return None
    return frozenset(
        str(u) for u in await RoomMemberRow.filter(room_id=room_id).values_list("user_id", flat=True)
    )


async def change_members(action: ModerationAction, connection: Any) -> None:
    """The membership side of a moderation action, in its transaction (asyncio side)."""
    room_id, target = action.room_id, action.target.user_id
    key = member_id(room_id, target)
    if action.action == "add_member":
        await RoomInviteRow.filter(id=key).using_db(connection).delete()
        await RoomMemberRow.get_or_create(
            id=key,
            defaults={
                "room_id": room_id,
                "user_id": target,
                "added_by": "" if action.actor is None else action.actor.user_id,
                "added_at": action.at,
            },
            using_db=connection,
        )
    elif action.action in ("remove_member", "ban"):  # a banned user is a member no more, nor invited
        await RoomMemberRow.filter(id=key).using_db(connection).delete()
        await RoomInviteRow.filter(id=key).using_db(connection).delete()


class MembershipTables:
    """Private rooms' members and invites; every method crosses the bridge once."""

    def __init__(self, bridge: AsyncioBridge) -> None:
        self._bridge = bridge

    async def visible(self, room_id: str, user_id: str) -> RoomInfo | None:
        """The room if it exists and ``user_id`` may see it (public, or private and a member); else None."""

        async def query() -> RoomInfo | None:
            room = await room_of(room_id)
            if room is None or not room.private:
                return room
            member = await RoomMemberRow.filter(id=member_id(room_id, user_id)).exists()
            return room if member else None

        return None if NUL in room_id else await self._bridge.call(query)

    async def members(self, room_id: str) -> list[User]:
        """A private room's members, in the order they came (at most :data:`MEMBERS_MAX`)."""

        async def query() -> list[User]:
            ids = await (
                RoomMemberRow.filter(room_id=room_id)
                .order_by("added_at", "user_id")
                .limit(MEMBERS_MAX)
                .values_list("user_id", flat=True)
            )
            names = await names_by_id(str(i) for i in ids)
            return [User(str(i), names[str(i)]) for i in ids if str(i) in names]

        return [] if NUL in room_id else await self._bridge.call(query)

    async def private_among(self, room_ids: list[str], user_id: str) -> set[str]:
        """Those of ``room_ids`` that are private rooms ``user_id`` is not a member of."""

        async def query() -> set[str]:
            private = await PrivateRoomRow.filter(room_id__in=room_ids).values_list("room_id", flat=True)
            if not private:
                return set()
            mine = await RoomMemberRow.filter(user_id=user_id, room_id__in=list(private)).values_list(
                "room_id", flat=True
            )
            return {str(r) for r in private} - {str(r) for r in mine}

        return await self._bridge.call(query) if room_ids else set()

    async def banned_among(self, room_ids: list[str], user_id: str) -> set[str]:
        """Those of ``room_ids`` where ``user_id`` is banned now: a join there would only be refused."""
        now = now_ms()
        keys = [f"{room_id}:{user_id}:ban" for room_id in room_ids]

        async def query() -> set[str]:
            rows = await RoomSanctionRow.filter(Q(id__in=keys) & (Q(until__isnull=True) | Q(until__gt=now)))
            return {str(row.room_id) for row in rows}

        return await self._bridge.call(query) if room_ids else set()

    async def invite(self, room_id: str, inviter: User, target: User) -> InviteOutcome | Invite:
        """Store an invite of ``target`` by ``inviter`` (a member); the invite, or why not.

        An invite already pending for the room is renewed (new inviter, new
        time) rather than doubled, so asking again notifies again and costs no place.
        """
        now = now_ms()

        async def write() -> InviteOutcome | Invite:
            async with in_transaction() as tx:
                room = await room_of(room_id)
                if room is None:
                    return InviteOutcome.NO_ROOM
                if not room.private:
                    return InviteOutcome.PUBLIC
                members = RoomMemberRow.filter(room_id=room_id).using_db(tx)
                if not await members.filter(user_id=inviter.user_id).exists():
                    return InviteOutcome.NO_ROOM
                if await members.filter(user_id=target.user_id).exists():
                    return InviteOutcome.MEMBER
                if await _banned(room_id, target.user_id, now):
                    return InviteOutcome.BANNED
                if await members.count() >= MEMBERS_MAX:
                    return InviteOutcome.ROOM_FULL
                key = member_id(room_id, target.user_id)
                pending = RoomInviteRow.filter(user_id=target.user_id).using_db(tx)
                if await pending.filter(id=key).delete() == 0 and await pending.count() >= INVITES_PER_USER:
                    return InviteOutcome.FULL
                await RoomInviteRow.create(
                    id=key,
                    room_id=room_id,
                    user_id=target.user_id,
                    inviter_id=inviter.user_id,
                    inviter_name=inviter.username,
                    created_at=now,
                    using_db=tx,
                )
                return Invite(room, inviter, now)

        return InviteOutcome.NO_ROOM if NUL in room_id else await self._bridge.call(write)

    async def accept(self, room_id: str, user: User) -> ModerationAction | None:
        """Turn the user's invite into membership, logged; the action, or None when there is no invite."""
        now = now_ms()

        async def write() -> ModerationAction | None:
            async with in_transaction() as tx:
                key = member_id(room_id, user.user_id)
                invite = await RoomInviteRow.filter(id=key).using_db(tx).first()
                if invite is None or await _banned(room_id, user.user_id, now):
                    return None
                if await RoomMemberRow.filter(room_id=room_id).using_db(tx).count() >= MEMBERS_MAX:
                    return None
                await RoomInviteRow.filter(id=key).using_db(tx).delete()
                inviter = User(invite.inviter_id, invite.inviter_name)
                await RoomMemberRow.get_or_create(
                    id=key,
                    defaults={
                        "room_id": room_id,
                        "user_id": user.user_id,
                        "added_by": inviter.user_id,
                        "added_at": now,
                    },
                    using_db=tx,
                )
                await ModerationLogRow.create(
                    room_id=room_id,
                    action="accept_invite",
                    actor_id=inviter.user_id,
                    actor_name=inviter.username,
                    target_id=user.user_id,
                    target_name=user.username,
                    reason=None,
                    until=None,
                    created_at=now,
                    using_db=tx,
                )
                return ModerationAction(room_id, "accept_invite", inviter, user, now)

        return None if NUL in room_id else await self._bridge.call(write)

    async def decline(self, room_id: str, user_id: str) -> bool:
        """Drop the user's invite to the room; False if there was none."""

        async def write() -> bool:
            return bool(await RoomInviteRow.filter(id=member_id(room_id, user_id)).delete())

        return False if NUL in room_id else await self._bridge.call(write)

    async def invites_of(self, user_id: str) -> list[Invite]:
        """The user's pending invites, newest first (at most :data:`INVITES_PER_USER`)."""

        async def query() -> list[Invite]:
            rows = await RoomInviteRow.filter(user_id=user_id).order_by("-created_at").limit(INVITES_PER_USER)
            rooms = {
                r.room_id: r for r in await infos(await RoomRow.filter(id__in=[i.room_id for i in rows]))
            }
            return [
                Invite(rooms[i.room_id], User(i.inviter_id, i.inviter_name), int(i.created_at))
                for i in rows
                if i.room_id in rooms
            ]

        return await self._bridge.call(query)


async def _banned(room_id: str, user_id: str, now: int) -> bool:
    return await RoomSanctionRow.filter(
        Q(room_id=room_id, user_id=user_id, kind="ban") & (Q(until__isnull=True) | Q(until__gt=now))
    ).exists()
