"""Who moderates a room, over HTTP: ``GET /api/v1/rooms/{room_id}/roles``.

A client needs the levels to offer each person only the moderation it may
take (a member's menu without Kick on the owner), so the answer names the
room's owner and admins, and the caller's own level (``you``): a site
administrator is told ``owner``, the level they act at, though they are not
listed. Readable by every signed-in user, like the room's details and its
online list: the roles of a room are as public as its members (a private
room's to its members only: 404 for anyone else, as for no room). The mutes
and bans in force (``sanctions``) are shown to those who may lift them, the
room's admins and owner; anyone else gets null there. Both lists are
bounded (:data:`ADMINS_SHOWN`, :data:`SANCTIONS_SHOWN`); the moderation log
(:mod:`web.moderation_api`) pages through everything that was done.

Who is what is read from the database (:mod:`storage.moderation`) and judged
by the rooms' own rule (:class:`actors.moderation.Moderation`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from quart import Blueprint, jsonify
from quart.typing import ResponseReturnValue

from actors.moderation import Level, Moderation
from web.api import room_or_404
from web.auth import current_user
from web.openapi import describe
from web.schemas import User, _Wire
from web.services import services

ADMINS_SHOWN = 500
"""The most admins listed, the first made first: the owner can make any number."""
SANCTIONS_SHOWN = 200
"""The most mutes and bans in force listed, by username."""

roles = Blueprint("roles", __name__, url_prefix="/api/v1")

_LEVEL_NAMES = {Level.OWNER: "owner", Level.ADMIN: "admin", Level.MEMBER: "member"}


class Sanction(_Wire):
    kind: Literal["mute", "ban"]
    user: User
    until: int | None = Field(
        description="When it ends by itself, ms since the Unix epoch; null: when lifted."
    )


class RoomRoles(_Wire):
    room_id: str
    owner: User | None = Field(
        description="The room's creator, or for a configured room the configured owner; null: none."
    )
    admins: list[User] = Field(description=f"The first {ADMINS_SHOWN} admins, in the order they were made.")
    you: Literal["owner", "admin", "member"] = Field(
        description="The caller's level here; a site administrator is at the owner's."
    )
    sanctions: list[Sanction] | None = Field(
        description=f"The mutes and bans in force (at most {SANCTIONS_SHOWN}, by username), "
        "for the room's admins and owner; null for anyone else."
    )


@roles.get("/rooms/<room_id>/roles")
@describe(RoomRoles, errors=(401, 404))
async def room_roles(room_id: str) -> ResponseReturnValue:
    """The room's owner and admins, the caller's level, and for moderators the mutes and bans in force."""
    svc = services()
    me = await current_user(svc)
    await room_or_404(svc, room_id, me)  # a private room is nobody's business but its members'
    tables = svc.db.moderation
    loaded = await tables.load(room_id)
    site = await tables.site_roles([me.user_id])
    level = Moderation(loaded).level(me.user_id, site)
    owner_id = loaded.owner_id if loaded.owner_id is not None else site.rooms_owner
    owner, admins = await tables.roles(room_id, owner_id, ADMINS_SHOWN)
    sanctions = None
    if level >= Level.ADMIN:
        kinds = [("mute", user_id, until) for user_id, until in loaded.mutes.items()]
        kinds += [("ban", user_id, until) for user_id, until in loaded.bans.items()]
        named = sorted(kinds, key=lambda k: (loaded.names.get(k[1], ""), k[0]))[:SANCTIONS_SHOWN]
        sanctions = [
            {
                "kind": kind,
                "user": {"user_id": user_id, "username": loaded.names.get(user_id, "")},
                "until": until,
            }
            for kind, user_id, until in named
        ]
    return jsonify(
        {
            "room_id": room_id,
            "owner": None if owner is None else owner.to_wire(),
            "admins": [admin.to_wire() for admin in admins],
            "you": _LEVEL_NAMES[level],
            "sanctions": sanctions,
        }
    )
