"""Presence subscriptions: which sessions watch whom, and telling them who came and went.

A client shows people (the members of its rooms, its conversation peers,
the site-wide online list) and wants to know which of them are online
without asking again and again. It names them with ``watch``
(:mod:`wire.presence`); the registry answers who of them is online now, then
pushes ``presence`` when one of them comes online (their first session
anywhere) or goes offline (their last one ended).

Contract:

* **Owner**: the registry (:mod:`actors.registry`, :mod:`cluster.registry`),
  which owns site-wide presence; only its task touches a :class:`PresenceWatch`
  and a :class:`Lingering`.
* **Bounds**: a session watches at most :data:`wire.presence.MAX_WATCHED`
  users; the index holds one entry per watching session and one per watched
  user, and a session's entries go when it unregisters or watches nothing.
* **Blocks**: a user who blocks X is never shown online to X. Each watch
  keeps the watched users who block its session's user (``hidden``); a block
  made while X watches is shown to X as the blocker going offline, an
  unblock as them coming online (when they are).
* **Grace**: a session that asked for ``linger`` (:mod:`actors.departures`)
  and was its user's last delays the ``presence`` offline by that grace: a
  reload shows the watchers nothing. Meanwhile the user counts as online to
  watchers (and to a new ``watch``), but not in the ``online`` list, whose
  meaning the contract fixes.
* **Cost**: nothing on the message paths; a coming or going costs one dict
  lookup, and one frame built once for all its watchers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from actors.departures import Departures
from actors.handle import SessionHandle
from wire import events
from wire.commands import Ref
from wire.shapes import User


@dataclass(slots=True)
class _Watch:
    session: SessionHandle
    user_ids: frozenset[str]
    hidden: set[str] = field(default_factory=set)
    """The watched users who block the session's user: never shown online to it."""


@dataclass(frozen=True, slots=True)
class WatchStats:
    watching_sessions: int
    watched_users: int


class PresenceWatch:
    """The watchers index: the pure core, no I/O (frames go to the sessions' outboxes)."""

    def __init__(self) -> None:
        self._by_session: dict[str, _Watch] = {}
        self._watchers: dict[str, dict[str, _Watch]] = {}  # watched user -> session id -> its watch
        self._online: dict[str, User] = {}  # the watched users known online here

    def unknown(self, user_ids: Iterable[str]) -> list[str]:
        """Those of ``user_ids`` nobody watches yet: their state must be looked up for :meth:`watch`."""
        return [u for u in user_ids if u not in self._watchers]

    def watch(
        self,
        session: SessionHandle,
        user_ids: frozenset[str],
        hidden: frozenset[str],
        online: list[User],
        ref: Ref,
    ) -> None:
        """Replace the session's watched set and answer ``watching``.

        ``online``: who of :meth:`unknown`'s users is online now (the others' state is known here).
        """
        before = self._unindex(session)
        for user in online:
            self._online[user.user_id] = user
        entry = _Watch(session, user_ids, set(hidden & user_ids))
        if user_ids:
            self._by_session[session.session_id] = entry
            for user_id in user_ids:
                self._watchers.setdefault(user_id, {})[session.session_id] = entry
        self._forget(before)
        shown = [self._online[u] for u in sorted(user_ids) if u in self._online and u not in entry.hidden]
        session.deliver(events.watching(shown, ref))

    def drop(self, session: SessionHandle) -> None:
        """The session watches nobody any more (it ended, or watched nothing)."""
        self._forget(self._unindex(session))

    def _unindex(self, session: SessionHandle) -> frozenset[str]:
        """Take the session's watch out of the index; whom it watched."""
        entry = self._by_session.pop(session.session_id, None)
        if entry is None:
            return frozenset()
        for user_id in entry.user_ids:
            watchers = self._watchers.get(user_id)
            if watchers is not None:
                watchers.pop(session.session_id, None)
                if not watchers:
                    del self._watchers[user_id]
        return entry.user_ids

    def _forget(self, user_ids: Iterable[str]) -> None:
        """Keep the known state only of users someone watches."""
        for user_id in user_ids:
            if user_id not in self._watchers:
                self._online.pop(user_id, None)

    def is_online(self, user_id: str) -> bool:
        return user_id in self._online

    def changed(self, user: User, online: bool) -> None:
        """``user`` came online or went offline site-wide: tell their watchers, once per change."""
        watchers = self._watchers.get(user.user_id)
        if not watchers or (user.user_id in self._online) == online:
            return
        if online:
            self._online[user.user_id] = user
        else:
            del self._online[user.user_id]
        frame = events.presence(user, online)
        for entry in watchers.values():
            if user.user_id not in entry.hidden:
                entry.session.deliver(frame)

    def block_changed(self, blocker_id: str, blocked_id: str, blocked: bool) -> None:
        """``blocker_id`` blocked ``blocked_id`` (or unblocked): their watches of the blocker show it as a going (coming)."""
        watchers = self._watchers.get(blocker_id)
        if not watchers:
            return
        shown = self._online.get(blocker_id)
        for entry in watchers.values():
            if entry.session.user.user_id != blocked_id or (blocker_id in entry.hidden) == blocked:
                continue
            if blocked:
                entry.hidden.add(blocker_id)
            else:
                entry.hidden.discard(blocker_id)
            if shown is not None:
                entry.session.deliver(events.presence(shown, not blocked))

    def statistics(self) -> WatchStats:
        return WatchStats(len(self._by_session), len(self._watchers))


class Lingering:
    """Users whose last session ended with a grace: still online to watchers until it runs out."""

    def __init__(self) -> None:
        self.timer: Departures[tuple[User, int]] = Departures()
        self._users: dict[str, tuple[User, int]] = {}  # user id -> (user, the number of this grace)
        self._numbers = itertools.count()

    def __len__(self) -> int:
        return len(self._users)

    def start(self, user: User, seconds: float) -> None:
        grace = (user, next(self._numbers))
        self._users[user.user_id] = grace
        self.timer.add(seconds, grace)

    def back(self, user_id: str) -> bool:
        """The user has a session again; True when they were within their grace (nobody was told they left)."""
        return self._users.pop(user_id, None) is not None

    def get(self, user_id: str) -> User | None:
        grace = self._users.get(user_id)
        return None if grace is None else grace[0]

    def due(self) -> list[User]:
        """The users whose grace ran out (and who did not come back meanwhile), taken out."""
        out = []
        for user, number in self.timer.due():
            if self._users.get(user.user_id, (None, -1))[1] == number:
                del self._users[user.user_id]
                out.append(user)
        return out
