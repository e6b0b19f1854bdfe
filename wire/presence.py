"""Presence subscriptions on the wire: the ``watch`` command.

::

    {"type": "watch", "user_ids": [str, ...], "ref"?}

It replaces the session's watched set (an empty list stops watching) and is
answered ``{"type": "watching", "online": [user], "ref"}``: the watched users
online now. While the session lives it then receives
``{"type": "presence", "user": user, "online": bool}`` whenever a watched
user's site-wide state changes (:func:`wire.events.presence`). Pure, like
:mod:`wire.commands`, which parses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wire.commands import Ref

MAX_WATCHED = 256
"""The most user ids one ``watch`` may name (a bound on what the server keeps per session); past it: ``bad_request``."""

MAX_USER_ID_LENGTH = 64


class BadWatch(ValueError):
    """A ``watch`` frame whose ``user_ids`` is not a list of at most :data:`MAX_WATCHED` user ids."""


@dataclass(frozen=True, slots=True)
class WatchPresence:
    """Watch exactly these users' site-wide presence from now on (none: stop)."""

    user_ids: frozenset[str]
    ref: Ref = None


def parse_watch(obj: dict[str, Any], ref: Ref) -> WatchPresence:
    """``user_ids``: a list of user ids (non-empty strings of at most 64 characters), at most 256; repeats count once."""
    ids = obj.get("user_ids")
    if not isinstance(ids, list):
        raise BadWatch("user_ids must be a list of user ids")
    if len(ids) > MAX_WATCHED:
        raise BadWatch(f"watch takes at most {MAX_WATCHED} user ids: watch the users you show")
    for user_id in ids:
        if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
            raise BadWatch(f"user_ids must hold non-empty strings of at most {MAX_USER_ID_LENGTH} characters")
    return WatchPresence(frozenset(ids), ref)
