"""Private rooms over HTTP: ``GET /api/v1/rooms/{room_id}/members`` and ``GET /api/v1/me/invites``.

Members are listed to members only; anybody else gets the 404 of a room
that does not exist (:func:`web.api.room_or_404`). A public room has no
member list: 400. Invites are answered over the WebSocket
(``accept_invite``, ``decline_invite``: :mod:`actors.invite_request`);
this lists the caller's pending ones, for a client that was offline when
``invited`` was pushed.
"""

from __future__ import annotations

from quart import Blueprint, jsonify
from quart.typing import ResponseReturnValue

from web.api import room_or_404
from web.auth import current_user
from web.errors import ApiError
from web.membership_schemas import InviteList, MemberList
from web.openapi import describe
from web.services import services

membership = Blueprint("membership", __name__, url_prefix="/api/v1")


@membership.get("/rooms/<room_id>/members")
@describe(MemberList, errors=(400, 401, 404))
async def room_members(room_id: str) -> ResponseReturnValue:
    """A private room's members, to its members."""
    svc = services()
    me = await current_user(svc)
    room = await room_or_404(svc, room_id, me)
    if not room.private:
        raise ApiError(400, "bad_request", "this room is public: it has no member list; see /online")
    members = await svc.db.moderation.members.members(room_id)
    return jsonify({"members": [u.to_wire() for u in members]})


@membership.get("/me/invites")
@describe(InviteList, errors=(401,))
async def my_invites() -> ResponseReturnValue:
    """The caller's pending invites to private rooms, newest first; none from users they block, either way."""
    svc = services()
    me = await current_user(svc)
    invites = await svc.db.moderation.members.invites_of(me.user_id)
    if svc.blocks is not None and invites:  # a block made after the invite hides it, as it would refuse it
        relations = await svc.blocks.relations(me.user_id)
        invites = [i for i in invites if not relations.bars(i.inviter.user_id)]
    return jsonify({"invites": [invite.to_wire() for invite in invites]})
