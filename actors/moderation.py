"""A room's roles and sanctions, and who may do what: the pure core of moderation.

Plain data and plain functions, tested without tasks or sockets. A room
actor holds one :class:`Moderation` on its :class:`actors.room_state.RoomState`
(so it outlives a crash of the actor), loaded once when the room starts
(:class:`storage.interface.ModerationState`) and changed only by the actions
the room carries out (:mod:`actors.moderator`). The checks on the hot paths
are dictionary lookups: :meth:`Moderation.mute_of` on every post, which
costs one truth test of an empty dictionary in a room where nobody is muted,
and :meth:`Moderation.ban_of` on every join.

Levels: owner > admin > member. A site administrator is at the owner's
level in every room; a configured room's owner is the configured account. Nobody acts on a user of their own level or above;
only the owner's level grants and takes admin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storage.interface import ModerationAction, ModerationState, SiteRoles
from wire.shapes import User


class Level(enum.IntEnum):
    MEMBER = 0
    ADMIN = 1
    OWNER = 2


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an action is not carried out: the documented error code and a sentence for the person."""

    code: str
    message: str


_ROLE_ACTIONS = frozenset({"grant_admin", "revoke_admin"})


def refusal(action: str, actor: Level, target: Level) -> Refusal | None:
    """Whether a user of level ``actor`` may take ``action`` on one of level ``target``; None: they may."""
    if action in _ROLE_ACTIONS:
        if actor < Level.OWNER:
            return Refusal("forbidden", "only the room's owner grants and takes admin")
        if target >= Level.OWNER:
            return Refusal("forbidden", "the owner's role does not change")
        return None
    if actor < Level.ADMIN:
        return Refusal("forbidden", "only the room's admins and its owner moderate it")
    if target >= actor:
        return Refusal("forbidden", "you cannot act on a user of your own level or above")
    return None


@dataclass(frozen=True, slots=True)
class Sanction:
    """A mute or a ban in force on ``user``: ``until`` ms since the epoch, None: until lifted."""

    user: User
    until: int | None

    def holds_at(self, now: int) -> bool:
        return self.until is None or self.until > now


class Moderation:
    """One room's owner, admins, mutes and bans."""

    __slots__ = ("admins", "bans", "members", "mutes", "owner_id")

    def __init__(self, loaded: ModerationState | None = None) -> None:
        self.owner_id = None if loaded is None else loaded.owner_id
        self.admins: set[str] = set() if loaded is None else set(loaded.admins)
        self.mutes: dict[str, Sanction] = {} if loaded is None else _sanctions(loaded.mutes, loaded.names)
        self.bans: dict[str, Sanction] = {} if loaded is None else _sanctions(loaded.bans, loaded.names)
        self.members: set[str] | None = (
            None if loaded is None or loaded.members is None else set(loaded.members)
        )
        """A private room's members (:mod:`actors.membership`); None: the room is public."""

    def level(self, user_id: str, site: SiteRoles | None = None) -> Level:
        """The user's level here; ``site`` says who is a site administrator and owns configured rooms."""
        if user_id == self.owner_id:
            return Level.OWNER
        if site is not None:
            if user_id in site.admins or (self.owner_id is None and user_id == site.rooms_owner):
                return Level.OWNER
        return Level.ADMIN if user_id in self.admins else Level.MEMBER

    def mute_of(self, user_id: str, now: int) -> Sanction | None:
        """The user's mute if it holds at ``now``; one that has ended is left for :meth:`expire`."""
        sanction = self.mutes.get(user_id)
        return sanction if sanction is not None and sanction.holds_at(now) else None

    def ban_of(self, user_id: str, now: int) -> Sanction | None:
        sanction = self.bans.get(user_id)
        return sanction if sanction is not None and sanction.holds_at(now) else None

    def apply(self, action: ModerationAction) -> None:
        """Carry out an action already stored (or heard from another process that stored it)."""
        target = action.target.user_id
        match action.action:
            case "grant_admin":
                self.admins.add(target)
            case "revoke_admin":
                self.admins.discard(target)
            case "mute":
                self.mutes[target] = Sanction(action.target, action.until)
            case "unmute":
                self.mutes.pop(target, None)
            case "ban":
                self.bans[target] = Sanction(action.target, action.until)
                self.admins.discard(target)
                if self.members is not None:  # a banned user is a member no more
                    self.members.discard(target)
            case "unban":
                self.bans.pop(target, None)
            case "add_member" | "accept_invite" if self.members is not None:
                self.members.add(target)
            case "remove_member" if self.members is not None:
                self.members.discard(target)

    def next_end(self) -> int | None:
        """The earliest time a mute or ban ends by itself (ms since the epoch), None if none does."""
        ends = [s.until for s in (*self.mutes.values(), *self.bans.values()) if s.until is not None]
        return min(ends, default=None)

    def expire(self, now: int) -> list[tuple[str, Sanction]]:
        """Drop the mutes and bans that have ended by ``now``: ``(kind, sanction)`` of each, for its notice."""
        ended: list[tuple[str, Sanction]] = []
        for kind, table in (("mute", self.mutes), ("ban", self.bans)):
            for user_id in [u for u, s in table.items() if not s.holds_at(now)]:
                ended.append((kind, table.pop(user_id)))
        return ended


def _sanctions(loaded: dict[str, int | None], names: dict[str, str]) -> dict[str, Sanction]:
    return {
        user_id: Sanction(User(user_id, names.get(user_id, "")), until) for user_id, until in loaded.items()
    }
