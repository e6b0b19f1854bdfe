"""The small storage interface the actors see.

Actors must not import the ORM. They append message drafts to a
:class:`MessageLog` and wait on the returned :class:`Commit`; the concrete log
is :class:`actors.journal.Journal`, which numbers drafts and stores them in
group commits through a :class:`MessageStore` (:class:`storage.database.Database`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from wire.shapes import RoomInfo, StoredMessage, User

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Draft:
    """A message the server has accepted but not yet numbered or stored."""

    kind: Literal["group", "private"]
    sender: User
    content: str
    room_id: str | None = None
    target_id: str | None = None


class LogClosed(Exception):
    """The server is shutting down and stores no more messages."""


class LogUnavailable(Exception):
    """Messages cannot be numbered right now (the cluster's Redis is unreachable): send again shortly."""


class CommitFailed(Exception):
    """The transaction holding a message failed; the message is not stored."""


class BlockLimitReached(Exception):
    """A user's block list is full (``limits.blocks_per_user``): nothing was added (:mod:`storage.blocks`)."""


class Commit(Protocol):
    """The outcome of the transaction that stores one message."""

    @property
    def settled(self) -> bool:
        """True once the outcome is known, so :meth:`result` may be called."""

    def result(self) -> None:
        """Once settled: return if the message is durable, raise :class:`CommitFailed` if not."""

    async def wait(self) -> None:
        """Return once settled (whichever the outcome)."""


class MessageLog(Protocol):
    async def append(self, draft: Draft) -> tuple[StoredMessage, Commit]:
        """Number ``draft`` and queue it for the next group commit.

        Waits only when the queue of uncommitted messages is at its bound.
        Messages appended by one caller are committed in the order appended.
        """

    @property
    def last_id(self) -> int:
        """The highest id handed out so far: every message appended later gets a higher one."""


class HistoryReader(Protocol):
    """Stored messages after a given id, for a client that recovers what it missed."""

    async def room_history_since(
        self, room_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        """The newest ``limit`` messages of the room with ``since < id <= upto``, oldest first."""

    async def private_history_since(
        self, user_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        """The newest ``limit`` private messages to or from the user with ``since < id <= upto``, oldest first."""


class ChangeReader(Protocol):
    """Edits and deletes a reconnecting client may have missed (:mod:`storage.revisions`)."""

    async def room_changes_since(self, room_id: str, since: int, limit: int) -> list[StoredMessage]:
        """Messages of the room with ``id <= since`` changed since message ``since`` was sent, as they are now."""


class MessageStore(Protocol):
    """Where numbered messages are kept: what the journal needs of the database."""

    async def max_message_id(self) -> int:
        """The highest id stored (0 when there is none): numbering continues after it."""

    async def write_messages(self, messages: list[StoredMessage]) -> None:
        """Store the batch in one transaction; raise if it could not be stored."""


class StoredIds(Protocol):
    """Which messages are in the history: the cluster looks up those whose commit it never heard of."""

    async def stored_ids(self, ids: list[int]) -> set[int]:
        """The ids among ``ids`` that are stored."""


# --- moderation (actors.moderation, storage.moderation) ------------------------

MODERATION_ACTIONS = ("grant_admin", "revoke_admin", "kick", "mute", "unmute", "ban", "unban")
"""Every action a room's moderators take; each is stored in the moderation log."""
MEMBERSHIP_ACTIONS = ("add_member", "remove_member", "accept_invite")
"""A private room's membership changes (:mod:`storage.membership`): logged and carried out as moderation is."""


@dataclass(frozen=True, slots=True)
class ModerationAction:
    """One moderation action, as it is carried out and logged.

    ``until`` (ms since the epoch) is when a mute or ban ends by itself;
    None means until it is lifted. ``actor`` is None only for what the
    server does by itself (a mute or ban reaching its end), which is not logged.
    """

    room_id: str
    action: str
    actor: User | None
    target: User
    at: int
    reason: str | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class ModerationState:
    """A room's roles and sanctions in force, as a room actor loads them when it starts.

    ``mutes`` and ``bans`` map a user id to when the sanction ends (None: until
    lifted); ``names`` holds the usernames of those users, for the notices.
    ``owner_id`` is the room's creator; None for a configured room, whose
    owner is the configured one (:class:`SiteRoles`), if any.
    """

    owner_id: str | None
    admins: frozenset[str]
    mutes: dict[str, int | None]
    bans: dict[str, int | None]
    names: dict[str, str]
    members: frozenset[str] | None = None
    """A private room's members; None: the room is public."""


@dataclass(frozen=True, slots=True)
class SiteRoles:
    """What some users are beyond any one room: read when a moderation command is checked.

    ``admins``: those of the users asked about who are site administrators
    (each acts as the owner of every room). ``rooms_owner``: the user id of
    the configured rooms' owner (``moderation.rooms_owner``), None if none is
    configured or no account has that name.
    """

    admins: frozenset[str] = frozenset()
    rooms_owner: str | None = None


class ModerationStore(Protocol):
    """Where rooms keep their roles, sanctions and moderation log (:class:`storage.moderation.ModerationTables`)."""

    async def load(self, room_id: str) -> ModerationState:
        """The room's owner, admins, and the mutes and bans that have not ended."""

    async def record(self, action: ModerationAction) -> None:
        """Store the action's effect and its log entry in one transaction; raise if it could not."""

    async def accept_invite(self, room_id: str, user: User) -> ModerationAction | None:
        """Make the invited user a member, logged; the action (its actor: the inviter), None without an invite."""

    async def site_roles(self, user_ids: list[str]) -> SiteRoles:
        """Which of ``user_ids`` are site administrators, and who owns the configured rooms."""


# --- private rooms (actors.membership, storage.membership) ------------------------

MEMBERS_MAX = 1000
"""The most members a private room may have (added by admins or by accepted invites)."""
INVITES_PER_USER = 50
"""The most pending invites a user may have: an invite beyond it is refused until they answer some."""


@dataclass(frozen=True, slots=True)
class Invite:
    """A pending invite: to which room, from whom, since when (ms)."""

    room: RoomInfo
    inviter: User
    created_at: int

    def to_wire(self) -> dict[str, object]:
        return {"room": self.room.to_wire(), "inviter": self.inviter.to_wire(), "created_at": self.created_at}


class InviteOutcome(enum.Enum):
    PUBLIC = "public"  # public rooms take no invites: anyone joins them
    NO_ROOM = (
        "no_room"  # no such room, or the inviter is not a member (the same answer: outsiders learn nothing)
    )
    MEMBER = "member"  # the invitee is a member already
    BANNED = "banned"  # the invitee is banned from the room
    FULL = "full"  # the invitee has INVITES_PER_USER pending invites
    ROOM_FULL = "room_full"  # the room has MEMBERS_MAX members


class Invitations(Protocol):
    """What a session asks of :class:`storage.membership.MembershipTables`."""

    async def invite(self, room_id: str, inviter: User, target: User) -> InviteOutcome | Invite:
        """Store an invite of ``target`` by ``inviter``; the invite, or why not."""

    async def decline(self, room_id: str, user_id: str) -> bool:
        """Drop the user's invite to the room; False if there was none."""


# --- edits and deletes of room messages (actors.revisions, storage.revisions) ----------


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What a room needs to know of a stored message to decide on an edit or a delete of it."""

    room_id: str | None
    sender: User
    created_at: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class Revision:
    """An edit (``content``) or a delete (``content`` None) of message ``message_id``, by ``by`` at ``at``."""

    message_id: int
    by: User
    at: int
    content: str | None = None


class RevisionStore(Protocol):
    """Where edits and deletes are stored (:class:`storage.revisions.RevisionTables`)."""

    async def revise(
        self, revision: Revision, decide: Callable[[MessageFacts | None], R | None]
    ) -> tuple[R | None, MessageFacts | None]:
        """In one transaction: read the message (locked), ask ``decide``, store the change unless it refused.

        ``decide`` gets None for a message that is not a stored room message;
        what it returns (a refusal) comes back, and then nothing was changed.
        """
