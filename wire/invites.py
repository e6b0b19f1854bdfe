"""Private rooms' invites on the wire: the commands and the frames that answer them.

::

    {"type": "invite", "room_id", "user_id", "ref"?}
    {"type": "accept_invite" | "decline_invite", "room_id", "ref"?}

``invite`` is answered with ``invite_sent`` (room id, the invited user);
the invited user's sessions receive ``invited`` (the room, the inviter,
when). ``accept_invite`` is answered with ``invite_accepted`` (the room,
which the user may now join), ``decline_invite`` with ``invite_declined``.
Adding and removing members directly are moderation commands
(``add_member``, ``remove_member``: :mod:`wire.moderation`). Pure, like
:mod:`wire.commands`, which parses them: the frames are built here as
plain objects and encoded by :mod:`wire.events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wire.shapes import RoomInfo, User

if TYPE_CHECKING:
    from wire.commands import Ref

INVITE_COMMANDS = frozenset({"invite", "accept_invite", "decline_invite"})


@dataclass(frozen=True, slots=True)
class InviteUser:
    """Invite ``user_id`` to the private room ``room_id`` (the session's user must be a member)."""

    room_id: str
    user_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class AnswerInvite:
    """Accept (become a member) or decline the session's user's invite to ``room_id``."""

    room_id: str
    accept: bool
    ref: Ref = None


def added(room: RoomInfo, actor: User | None, at: int) -> dict[str, Any]:
    """To every session of a user an admin made a member of a private room: the room is theirs to join now."""
    return {
        "type": "added_to_room",
        "room": room.to_wire(),
        "actor": None if actor is None else actor.to_wire(),
        "at": at,
    }


def invited(room: RoomInfo, inviter: User, created_at: int) -> dict[str, Any]:
    """To every session of the invited user: shaped as an item of ``GET /api/v1/me/invites``, typed."""
    return {"type": "invited", "room": room.to_wire(), "inviter": inviter.to_wire(), "created_at": created_at}


def invite_sent(room_id: str, user: User) -> dict[str, Any]:
    return {"type": "invite_sent", "room_id": room_id, "user": user.to_wire()}


def invite_accepted(room: RoomInfo) -> dict[str, Any]:
    return {"type": "invite_accepted", "room": room.to_wire()}


def invite_declined(room_id: str) -> dict[str, Any]:
    return {"type": "invite_declined", "room_id": room_id}
