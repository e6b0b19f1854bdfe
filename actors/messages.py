"""Typed messages between actors: one union per receiver.

Commands are imperative; replies travel either through a one-shot
:class:`actors.ref.Reply` (``ask``) or, for a session, as encoded frames put
straight into its outbox by the actor that answers, so that a reply is never
overtaken by a broadcast that the same actor sends afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from actors.handle import SessionHandle
from actors.ref import ActorRef, Reply
from storage.interface import Commit, ModerationAction, RevisionStore, SiteRoles
from wire.commands import Ref
from wire.events import OutFrame
from wire.moderation import Moderate
from wire.revisions import Delete, Edit
from wire.shapes import RoomInfo, User

# --- to a room ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinRoom:
    session: SessionHandle
    ref: Ref = None
    since: int | None = None
    """Recover the messages after this id (:mod:`actors.recovery`); None: a plain join."""


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    session: SessionHandle
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SessionGone:
    """The session disconnected: leave without a reply."""

    session: SessionHandle


@dataclass(frozen=True, slots=True)
class PostGroup:
    session: SessionHandle
    content: str
    ref: Ref = None
    accepted: float = field(default_factory=trio.current_time)  # starts the delivery latency


@dataclass(frozen=True, slots=True)
class ListMembers:
    """A session asks for the room's online list; the answer goes to its outbox."""

    session: SessionHandle
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class GetMembers:
    """The HTTP API asks for the room's online users."""

    reply: Reply[list[User]]


@dataclass(frozen=True, slots=True)
class Published:
    """A frame the cluster published to the room (:mod:`cluster.subscriber`): deliver it here, in order.

    ``commit`` is the message's commit (None for a notice); ``skip`` a session
    not to give it to (the joiner, for its own join notice).
    """

    frame: OutFrame
    commit: Commit | None
    message_id: int | None = None
    skip: str | None = None


@dataclass(frozen=True, slots=True)
class PublishedBatch:
    """The messages of one publication, in id order: one mailbox message for a whole burst of posts."""

    items: tuple[Published, ...]


@dataclass(frozen=True, slots=True)
class ModerateRoom:
    """A session's moderation command (:mod:`actors.moderator`), its target found.

    ``site``: which of the session's user and the target are site
    administrators, and who owns the configured rooms, read by the session
    so that the room awaits no query for it.
    """

    session: SessionHandle
    command: Moderate
    target: User
    site: SiteRoles
    registry: ActorRef[RegistryMsg] | None = None
    """Where a member added to a private room is told of it (``added_to_room``); None: not told."""


@dataclass(frozen=True, slots=True)
class RoomTyping:
    """A member is typing: tell the room's other sessions (:meth:`actors.room.Room._typing`)."""

    session: SessionHandle
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class PrivateTyping:
    """``session``'s user is typing to ``target``: tell the target's sessions (:mod:`actors.typing`)."""

    session: SessionHandle
    target: User


@dataclass(frozen=True, slots=True)
class TypingArrived:
    """Cluster mode: a typing notice for ``user_id`` published by another process; give it to their sessions here."""

    user_id: str
    frame: OutFrame


@dataclass(frozen=True, slots=True)
class ApplyModeration:
    """A moderation action stored by another process of the cluster: carry it out here too."""

    action: ModerationAction


@dataclass(frozen=True, slots=True)
class RevisionSettings:
    """Where edits and deletes are stored, and for how long after sending a message its sender may edit it."""

    store: RevisionStore
    edit_window: float
    """Seconds (``limits.edit_window_seconds``); 0: edits are turned off."""
    throttle: Callable[[str], Awaitable[int | None]] | None = None
    """Counts one edit or delete per user; the seconds to wait at ``rate_limit.message_changes``. None: unlimited."""


@dataclass(frozen=True, slots=True)
class ReviseMessage:
    """A session's edit or delete of a room message (:mod:`actors.revisions`).

    ``site``: for a delete, which of the session's user is a site
    administrator and who owns the configured rooms (read by the session).
    ``settings``: the session's, so that a room needs nothing more to act (None: not kept).
    """

    session: SessionHandle
    command: Edit | Delete
    site: SiteRoles | None = None
    settings: RevisionSettings | None = None


@dataclass(frozen=True, slots=True)
class DeparturesDue:
    """From the room's own timer: a user's grace after their connection dropped has ended (:mod:`actors.departures`)."""


@dataclass(frozen=True, slots=True)
class EndSanctions:
    """From the room's own timer: a mute or a ban has reached its end."""


@dataclass(frozen=True, slots=True)
class AcceptInvite:
    """A session's user accepts their invite to this private room (:mod:`actors.membership`)."""

    session: SessionHandle
    ref: Ref = None


RoomMsg = (
    JoinRoom
    | LeaveRoom
    | SessionGone
    | PostGroup
    | ListMembers
    | GetMembers
    | Published
    | PublishedBatch
    | ModerateRoom
    | ApplyModeration
    | RoomTyping
    | EndSanctions
    | DeparturesDue
    | AcceptInvite
    | ReviseMessage
)

# --- to the registry -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterSession:
    session: SessionHandle


@dataclass(frozen=True, slots=True)
class UnregisterSession:
    session: SessionHandle


@dataclass(frozen=True, slots=True)
class RoutePrivate:
    """A private message from ``session`` to ``target``, a user known to exist."""

    session: SessionHandle
    target: User
    content: str
    ref: Ref = None
    accepted: float = field(default_factory=trio.current_time)  # starts the delivery latency


@dataclass(frozen=True, slots=True)
class SyncPrivate:
    """The session asks for the private messages of its user after ``since`` (:mod:`actors.recovery`)."""

    session: SessionHandle
    since: int
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class ListOnline:
    session: SessionHandle
    ref: Ref = None
    hidden: frozenset[str] = frozenset()
    """Users left out of the answer: those who block the session's user (:mod:`actors.block_lists`)."""


@dataclass(frozen=True, slots=True)
class GetOnline:
    reply: Reply[list[User]]


@dataclass(frozen=True, slots=True)
class CloseAllSessions:
    """Shutdown: close every session with ``code``; replies with how many there were."""

    code: int
    reason: str
    reply: Reply[int]


@dataclass(frozen=True, slots=True)
class CloseUserSessions:
    """A user's tokens were revoked: close their sessions (only those of ``token_id`` when given)."""

    user_id: str
    token_id: str | None
    code: int
    reason: str
    here_only: bool = False
    """In cluster mode: the order came from the cluster, close this process's sessions only."""


@dataclass(frozen=True, slots=True)
class PublishedPrivate:
    """A private message the cluster published on ``user_id``'s channel: deliver it to their sessions here."""

    frame: OutFrame
    commit: Commit
    message_id: int
    user_id: str


@dataclass(frozen=True, slots=True)
class AnnounceRoom:
    """A room was created: tell every session (in cluster mode every process's, unless ``here_only``)."""

    room: RoomInfo
    here_only: bool = False
    """In cluster mode: the news came from the cluster, tell this process's sessions only."""


@dataclass(frozen=True, slots=True)
class ShareReadMarker:
    """A user's read marker moved: tell their sessions but ``skip`` (the one that marked).

    The marker is ``room_id``'s or ``peer_id``'s (one of them). In cluster
    mode the registry passes it to the other processes too, unless ``here_only``.
    """

    user_id: str
    up_to: int
    room_id: str | None = None
    peer_id: str | None = None
    skip: str | None = None
    here_only: bool = False


@dataclass(frozen=True, slots=True)
class ShareBlock:
    """``user_id`` blocked ``peer`` (or unblocked): forget both users' relations, tell the user's sessions but ``skip``.

    In cluster mode the registry passes it on both users' channels too, unless
    ``here_only``; one that arrived on the peer's channel has ``notify`` false
    (the peer is never told, and the user's sessions hear it on the user's).
    """

    user_id: str
    peer: User
    blocked: bool
    skip: str | None = None
    here_only: bool = False
    notify: bool = True


@dataclass(frozen=True, slots=True)
class ShareInvite:
    """Give ``invite`` (an ``invited`` frame's object) to ``user_id``'s sessions; in cluster mode, on every process."""

    user_id: str
    invite: dict[str, object]
    here_only: bool = False


@dataclass(frozen=True, slots=True)
class Watch:
    """``session`` watches exactly ``user_ids`` now (:mod:`actors.presence_watch`); ``reply``: whether it was done.

    The registry hides the session's user's blockers as its block cache holds
    them, and answers False, doing nothing, when the cache does not hold them
    (a block changed while the session read them): the session reads them again.
    """

    session: SessionHandle
    user_ids: frozenset[str]
    ref: Ref
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Cluster mode: a user came online or went offline site-wide (heard on the control channel)."""

    user: User
    online: bool


@dataclass(frozen=True, slots=True)
class PresenceDue:
    """From the registry's own timer: a user's grace after their last session ended has run out."""


@dataclass(frozen=True, slots=True)
class PingSessions:
    """From the heartbeat: queue a WebSocket ping to every session."""


RegistryMsg = (
    RegisterSession
    | UnregisterSession
    | RoutePrivate
    | SyncPrivate
    | ListOnline
    | GetOnline
    | CloseAllSessions
    | CloseUserSessions
    | PublishedPrivate
    | PingSessions
    | ShareReadMarker
    | ShareBlock
    | AnnounceRoom
    | PrivateTyping
    | TypingArrived
    | ShareInvite
    | Watch
    | PresenceChanged
    | PresenceDue
)
