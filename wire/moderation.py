"""The moderation commands a client sends, and the frames that answer and announce them.

One command shape for every action, named by its ``type``::

    {"type": "kick" | "mute" | "unmute" | "ban" | "unban" | "grant_admin" | "revoke_admin"
             | "add_member" | "remove_member",
     "room_id", "user_id", "reason"?, "duration"? | "until"?, "ref"?}

``add_member`` and ``remove_member`` change a private room's members
(:mod:`actors.membership`); they travel, are logged and are announced as
the other actions are.

``reason`` (kick, mute, ban) is at most :data:`REASON_MAX` characters;
``duration`` (seconds) or ``until`` (ms since the epoch) says when a mute or
a ban ends by itself, neither: when it is lifted. Pure, like
:mod:`wire.commands`: no clock is read here (the room turns a duration into
an end when it carries the action out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wire.clock import now_ms
from wire.shapes import User
from wire.strict_json import InvalidJson

if TYPE_CHECKING:
    from wire.commands import Ref

ACTIONS = frozenset(
    {"grant_admin", "revoke_admin", "kick", "mute", "unmute", "ban", "unban", "add_member", "remove_member"}
)
TIMED = frozenset({"mute", "ban"})
WITH_REASON = frozenset({"kick", "mute", "ban"})
REASON_MAX = 500
DURATION_MAX = 10 * 366 * 86400
"""Ten years, in seconds: longer is "until lifted", which is said by leaving ``duration`` out."""
UNTIL_MAX = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Moderate:
    """A moderation action on ``user_id`` in ``room_id``, asked for by the session's user."""

    action: str
    room_id: str
    user_id: str
    reason: str | None = None
    duration: int | None = None
    """Seconds from when the room carries it out (mute, ban)."""
    until: int | None = None
    """Ms since the epoch (mute, ban)."""
    ref: Ref = None

    def ends(self, now: int) -> int | None:
        """When the mute or ban ends, from ``now`` (ms since the epoch); None: when lifted."""
        if self.duration is not None:
            return now + self.duration * 1000
        return self.until


def parse_moderation(obj: dict[str, Any], action: str, room_id: str, user_id: str, ref: Ref) -> Moderate:
    """The rest of a moderation command, once its ids are read; InvalidJson names the bad field."""
    reason = obj.get("reason")
    if reason is not None and (action not in WITH_REASON or not isinstance(reason, str)):
        raise InvalidJson("reason must be a string, and only kick, mute and ban take one")
    if isinstance(reason, str) and len(reason) > REASON_MAX:
        raise InvalidJson(f"reason must be at most {REASON_MAX} characters")
    duration, until = obj.get("duration"), obj.get("until")
    if action not in TIMED and (duration is not None or until is not None):
        raise InvalidJson("only mute and ban take duration or until")
    if duration is not None and until is not None:
        raise InvalidJson("give duration or until, not both")
    if duration is not None and not _whole(duration, 1, DURATION_MAX):
        raise InvalidJson(f"duration must be a whole number of seconds from 1 to {DURATION_MAX}")
    if until is not None and not _whole(until, 1, UNTIL_MAX):
        raise InvalidJson("until must be a time in ms since the Unix epoch")
    return Moderate(action, room_id, user_id, reason or None, duration, until, ref)


def _whole(value: object, lo: int, hi: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and lo <= value <= hi


NOTICE_TEXT = {
    "grant_admin": "{actor} made {name} an admin",
    "revoke_admin": "{actor} took admin from {name}",
    "kick": "{actor} kicked {name}",
    "ban": "{actor} banned {name}",
    "unban": "{actor} lifted the ban on {name}",
    "mute": "{actor} muted {name}",
    "unmute": "{actor} lifted the mute on {name}",
    "add_member": "{actor} added {name} to the room's members",
    "remove_member": "{actor} removed {name} from the room's members",
    "accept_invite": "{name} accepted {actor}'s invite",
}
ENDED_TEXT = {"mute": "the mute on {name} ended", "ban": "the ban on {name} ended"}


def notice(
    action: str,
    room_id: str,
    target: User,
    actor: User | None,
    *,
    reason: str | None = None,
    until: int | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A ``system`` notice of a moderation action (``actor`` None: a mute or ban that ended by itself)."""
    if actor is None:
        content = ENDED_TEXT[action.removeprefix("un")].format(name=target.username)
    else:
        content = NOTICE_TEXT[action].format(actor=actor.username, name=target.username)
    if reason:
        content += f": {reason}"
    out: dict[str, Any] = {
        "type": "system",
        "event": action,
        "room_id": room_id,
        "user": target.to_wire(),
        "actor": None if actor is None else actor.to_wire(),
        "content": content,
        "timestamp": now_ms() if timestamp is None else timestamp,
    }
    if action in WITH_REASON:
        out["reason"] = reason
    if action in TIMED:
        out["until"] = until
    return out
