"""A room's roster, the pure core of the room actor: who is in, by session and by user.

Plain data and no tasks, so that it is tested without sockets and survives
the crash of the actor around it (:mod:`actors.room` keeps it across restarts).
"""

from __future__ import annotations

import enum

from actors.handle import SessionHandle
from actors.moderation import Moderation
from wire.shapes import RoomInfo, User


class Joined(enum.Enum):
    AGAIN = "again"  # this session was already a member
    ANOTHER_SESSION = "another_session"  # the user was already present through another session
    FIRST = "first"  # the user was not present: announce them


class Left(enum.Enum):
    NOT_MEMBER = "not_member"
    ANOTHER_SESSION_REMAINS = "another_session_remains"
    LAST = "last"  # the user's last session left: announce it
    LINGERING = "lingering"  # the user's last session dropped: still listed, announced after a grace


class RoomState:
    """Who is in the room, by session and by user, in order of arrival.

    ``members`` receive the room's messages as they are delivered; a session
    that joined to recover what it missed waits in ``recovering`` (a member
    for everything else: it may post, it is online) until its recovery reply
    has gone out, so that no live message overtakes the reply.
    """

    def __init__(self, info: RoomInfo) -> None:
        self.info = info
        self.members: dict[str, SessionHandle] = {}
        self.recovering: dict[str, SessionHandle] = {}
        self._sessions_by_user: dict[str, set[str]] = {}
        self._users: dict[str, User] = {}
        self.lingering: set[str] = set()
        """Users still listed whose last session went away, during their grace (:mod:`actors.departures`)."""
        self.moderation = Moderation()
        """Roles, mutes and bans (:mod:`actors.moderation`), loaded when the room starts."""

    def join(self, session: SessionHandle, *, recovering: bool = False) -> Joined:
        if session.session_id in self.members or session.session_id in self.recovering:
            return Joined.AGAIN
        (self.recovering if recovering else self.members)[session.session_id] = session
        user_id = session.user.user_id
        sessions = self._sessions_by_user.setdefault(user_id, set())
        sessions.add(session.session_id)
        if len(sessions) > 1:
            return Joined.ANOTHER_SESSION
        if user_id in self.lingering:  # back within the grace: nobody was told they left
            self.lingering.discard(user_id)
            return Joined.ANOTHER_SESSION
        self._users[user_id] = session.user
        return Joined.FIRST

    def go_live(self, session_id: str) -> bool:
        """A recovering session starts to receive live messages; False if it left meanwhile."""
        session = self.recovering.pop(session_id, None)
        if session is None:
            return False
        self.members[session_id] = session
        return True

    def leave(self, session_id: str, *, linger: bool = False) -> Left:
        """Take a session out; with ``linger``, its user stays listed if it was their last (see :meth:`depart`)."""
        session = self.members.pop(session_id, None) or self.recovering.pop(session_id, None)
        if session is None:
            return Left.NOT_MEMBER
        user_id = session.user.user_id
        sessions = self._sessions_by_user[user_id]
        sessions.discard(session_id)
        if sessions:
            return Left.ANOTHER_SESSION_REMAINS
        del self._sessions_by_user[user_id]
        if linger:
            self.lingering.add(user_id)
            return Left.LINGERING
        del self._users[user_id]
        return Left.LAST

    def depart(self, user_id: str) -> User | None:
        """A lingering user's grace has ended: unlist them if no session came back; the user to announce."""
        if user_id not in self.lingering:
            return None
        self.lingering.discard(user_id)
        return self._users.pop(user_id)

    @property
    def occupied(self) -> bool:
        """Someone is in the room (receiving live, or recovering)."""
        return bool(self.members or self.recovering)

    def is_member(self, session_id: str) -> bool:
        return session_id in self.members or session_id in self.recovering

    def sessions_of(self, user_id: str) -> list[SessionHandle]:
        """The user's sessions in the room, live or recovering."""
        both = self.members | self.recovering
        return [both[s] for s in self._sessions_by_user.get(user_id, ())]

    def online(self) -> list[User]:
        return list(self._users.values())

    @property
    def online_count(self) -> int:
        return len(self._users)

    def check(self) -> None:
        """Rebuild the per-user index from the member table after a crash."""
        by_user: dict[str, set[str]] = {}
        users: dict[str, User] = {}
        for session_id, session in (self.members | self.recovering).items():
            by_user.setdefault(session.user.user_id, set()).add(session_id)
            users.setdefault(session.user.user_id, session.user)
        self.lingering -= by_user.keys()
        self.lingering &= self._users.keys()
        for user_id in self.lingering:  # still waiting out their grace
            users.setdefault(user_id, self._users[user_id])
        self._sessions_by_user = by_user
        self._users = users
