"""Rooms' roles, mutes and bans, and the moderation log, in Trio terms.

Three tables (:mod:`storage.models`): ``room_roles`` (who is an admin of
which room), ``room_sanctions`` (the mutes and bans in force) and
``moderation_log`` (every action, never changed). A room actor reads the
first two once, when it starts (:meth:`ModerationTables.load`), and keeps
them in memory, so that the checks on its join and post paths cost no
query; each action is written here first (:meth:`ModerationTables.record`,
one transaction for its effect and its log entry) and then applied to
that memory. ``site_admins`` (``chat-server make-admin``) is read here too:
a site administrator acts as the owner of every room.

The owner of a room has no row: it is the room's creator, or for a
configured room the account named by ``moderation.rooms_owner``, looked up
by name with the site administrators (:meth:`ModerationTables.site_roles`)
whenever a moderation command is checked, so an account created after
start-up owns them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from storage.bridge import AsyncioBridge
from storage.dialects import NUL, storable_text, stored_text
from storage.interface import ModerationAction, ModerationState, SiteRoles
from storage.membership import MembershipTables, change_members, member_ids
from storage.models import ModerationLogRow, RoomRoleRow, RoomRow, RoomSanctionRow, SiteAdminRow, UserRow
from storage.usernames import login_key, login_keys, names_by_id
from wire.clock import now_ms
from wire.shapes import User

ADMIN = "admin"


def role_id(room_id: str, user_id: str) -> str:
    return f"{room_id}:{user_id}"


def sanction_id(room_id: str, user_id: str, kind: str) -> str:
    return f"{room_id}:{user_id}:{kind}"


@dataclass(frozen=True, slots=True)
class LoggedAction:
    """An entry of a room's moderation log: its id (the log's order) and the action."""

    id: int
    action: ModerationAction


class ModerationTables:
    """Roles, sanctions and the log; every method crosses the bridge once."""

    def __init__(self, bridge: AsyncioBridge, dialect: str) -> None:
        self._bridge = bridge
        self._dialect = dialect
        self.members = MembershipTables(bridge)
        """Private rooms' members and invites (:mod:`storage.membership`)."""
        self.rooms_owner: str | None = None
        """The username that owns the configured rooms (``moderation.rooms_owner``); None: site admins do."""

    async def load(self, room_id: str) -> ModerationState:
        now = now_ms()

        async def query() -> ModerationState:
            owner = await RoomRow.filter(id=room_id).values_list("created_by", flat=True)
            admins = await RoomRoleRow.filter(room_id=room_id, role=ADMIN).values_list("user_id", flat=True)
            live = await RoomSanctionRow.filter(
                Q(room_id=room_id) & (Q(until__isnull=True) | Q(until__gt=now))
            ).values_list("user_id", "kind", "until")
            mutes = {str(u): _ms(t) for u, k, t in live if k == "mute"}
            bans = {str(u): _ms(t) for u, k, t in live if k == "ban"}
            sanctioned = list(mutes.keys() | bans.keys())
            named = await names_by_id(sanctioned)
            creator = str(owner[0]) if owner and owner[0] is not None else None
            members = await member_ids(room_id)
            return ModerationState(creator, frozenset(str(a) for a in admins), mutes, bans, named, members)

        if NUL in room_id:
            return ModerationState(None, frozenset(), {}, {}, {})
        return await self._bridge.call(query)

    async def site_roles(self, user_ids: list[str]) -> SiteRoles:
        wanted, owner_name = [u for u in user_ids if NUL not in u], self.rooms_owner

        async def query() -> SiteRoles:
            found = await SiteAdminRow.filter(user_id__in=wanted).values_list("user_id", flat=True)
            owner = None if owner_name is None else await _user_id_of(owner_name)
            return SiteRoles(frozenset(str(u) for u in found), owner)

        return await self._bridge.call(query)

    async def accept_invite(self, room_id: str, user: User) -> ModerationAction | None:
        return await self.members.accept(room_id, user)

    async def roles(self, room_id: str, owner_id: str | None, limit: int) -> tuple[User | None, list[User]]:
        """The room's owner (``owner_id``, named) and its first ``limit`` admins in the order they were made."""

        async def query() -> tuple[User | None, list[User]]:
            ids = await (
                RoomRoleRow.filter(room_id=room_id, role=ADMIN)
                .order_by("granted_at", "user_id")
                .limit(limit)
                .values_list("user_id", flat=True)
            )
            wanted = [str(i) for i in ids] + ([] if owner_id is None else [owner_id])
            named = await names_by_id(wanted)
            owner = User(owner_id, named[owner_id]) if owner_id is not None and owner_id in named else None
            return owner, [User(str(i), named[str(i)]) for i in ids if str(i) in named]

        if NUL in room_id:
            return None, []
        return await self._bridge.call(query)

    async def record(self, action: ModerationAction) -> None:
        """The action's effect on the roles or sanctions and its log entry, in one transaction."""
        room_id, target = action.room_id, action.target.user_id
        actor = action.actor or User("", "")
        reason = None if action.reason is None else storable_text(self._dialect, action.reason)

        async def write() -> None:
            async with in_transaction() as tx:
                match action.action:
                    case "grant_admin":
                        await RoomRoleRow.get_or_create(
                            id=role_id(room_id, target),
                            defaults={
                                "room_id": room_id,
                                "user_id": target,
                                "role": ADMIN,
                                "granted_by": actor.user_id,
                                "granted_at": action.at,
                            },
                            using_db=tx,
                        )
                    case "revoke_admin":
                        await RoomRoleRow.filter(id=role_id(room_id, target)).using_db(tx).delete()
                    case "mute" | "ban":
                        key = sanction_id(room_id, target, action.action)
                        await RoomSanctionRow.filter(id=key).using_db(tx).delete()
                        await RoomSanctionRow.create(
                            id=key,
                            room_id=room_id,
                            user_id=target,
                            kind=action.action,
                            until=action.until,
                            reason=reason,
                            actor_id=actor.user_id,
                            created_at=action.at,
                            using_db=tx,
                        )
                        if action.action == "ban":  # a banned admin is an admin no more
                            await RoomRoleRow.filter(id=role_id(room_id, target)).using_db(tx).delete()
                    case "unmute" | "unban":
                        kind = action.action.removeprefix("un")
                        await (
                            RoomSanctionRow.filter(id=sanction_id(room_id, target, kind))
                            .using_db(tx)
                            .delete()
                        )
                await change_members(action, tx)
                await ModerationLogRow.create(
                    room_id=room_id,
                    action=action.action,
                    actor_id=actor.user_id,
                    actor_name=actor.username,
                    target_id=target,
                    target_name=action.target.username,
                    reason=reason,
                    until=action.until,
                    created_at=action.at,
                    using_db=tx,
                )

        await self._bridge.call(write)

    async def log(self, room_id: str, before: int | None, limit: int) -> list[LoggedAction]:
        """The room's newest ``limit`` log entries with an id below ``before``, newest first."""
        dialect = self._dialect

        async def query() -> list[ModerationLogRow]:
            qs = ModerationLogRow.filter(room_id=room_id)
            if before is not None:
                qs = qs.filter(id__lt=before)
            return await qs.order_by("-id").limit(limit)

        rows = [] if NUL in room_id else await self._bridge.call(query)
        return [
            LoggedAction(
                int(r.id),
                ModerationAction(
                    room_id=r.room_id,
                    action=r.action,
                    actor=User(r.actor_id, r.actor_name),
                    target=User(r.target_id, r.target_name),
                    at=int(r.created_at),
                    reason=None if r.reason is None else stored_text(dialect, r.reason),
                    until=_ms(r.until),
                ),
            )
            for r in rows
        ]


async def _user_id_of(username: str) -> str | None:
    """The id of the account a login with ``username`` would reach (asyncio side), or None."""
    keys = list(login_keys(username))
    rows = {row.username_key: row for row in await UserRow.filter(username_key__in=keys)}
    row = rows.get(login_key(username, {key: r.username for key, r in rows.items()}) or "")
    return None if row is None else str(row.id)


def _ms(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
