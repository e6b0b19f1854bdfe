"""The moderation log over HTTP: ``GET /api/v1/rooms/{room_id}/moderation``.

Readable by the room's admins and owner, and by site administrators (who
act as every room's owner); anyone else gets 403 ``forbidden``, also for a
room without a single action yet, so the answer tells a non-moderator
nothing. Who is what is read from the database (:mod:`storage.moderation`),
which a room writes before it carries an action out, and judged by the rule
the rooms use (:class:`actors.moderation.Moderation`). Paged like the
history: the newest ``limit`` entries with an id below ``before``.
"""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from actors.moderation import Level, Moderation
from storage.moderation import LoggedAction
from web import validation
from web.api import room_or_404
from web.auth import current_user
from web.errors import ApiError
from web.moderation_schemas import ModerationLog
from web.openapi import describe
from web.schemas import HistoryQuery
from web.services import services

moderation = Blueprint("moderation", __name__, url_prefix="/api/v1")


@moderation.get("/rooms/<room_id>/moderation")
@describe(ModerationLog, query=HistoryQuery, errors=(400, 401, 403, 404))
async def moderation_log(room_id: str) -> ResponseReturnValue:
    """The room's moderation log, newest first: who did what to whom, when, why and until when."""
    svc = services()
    me = await current_user(svc)
    before, limit = validation.paging(request.args)
    await room_or_404(svc, room_id, me)  # a private room's log is its members' business
    tables = svc.db.moderation
    roles = Moderation(await tables.load(room_id))
    if roles.level(me.user_id, await tables.site_roles([me.user_id])) < Level.ADMIN:
        raise ApiError(403, "forbidden", "only the room's admins and its owner read its moderation log")
    found = await tables.log(room_id, before, limit + 1)
    page = found[:limit]
    return jsonify(
        {
            "actions": [_entry(logged) for logged in page],
            "next_before": page[-1].id if len(found) > limit else None,
        }
    )


def _entry(logged: LoggedAction) -> dict[str, object]:
    action = logged.action
    return {
        "id": logged.id,
        "action": action.action,
        "room_id": action.room_id,
        "actor": None if action.actor is None else action.actor.to_wire(),
        "user": action.target.to_wire(),
        "reason": action.reason,
        "until": action.until,
        "timestamp": action.at,
    }
