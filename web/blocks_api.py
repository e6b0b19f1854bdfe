"""Block lists over HTTP: ``GET /api/v1/blocks``, ``PUT`` and ``DELETE /api/v1/blocks/{user_id}``.

The same changes as the WebSocket's ``block`` and ``unblock``, through the
same :class:`actors.block_lists.BlockLists`: stored, then every WebSocket
session of the caller gets ``block_changed``, so a client can keep its list
current whichever way it was changed. ``PUT`` and ``DELETE`` are idempotent:
blocking a blocked user answers the block as it stands, unblocking a user
who is not blocked answers 204, and neither tells anybody. The list is
paged like the room list, oldest block first.
"""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue

from actors.block_lists import BlockChange, BlockRefused
from storage.blocks import BlockedUser, BlockTable
from storage.dialects import NUL
from web.auth import current_user
from web.block_schemas import BlockPage, BlockReply, BlocksQuery
from web.errors import ApiError
from web.openapi import describe
from web.room_pages import encode_cursor, room_paging
from web.services import Services, services
from web.validation import bad_request

blocks = Blueprint("blocks", __name__, url_prefix="/api/v1")

_STATUS = {"forbidden": 403, "user_not_found": 404, "block_limit": 409, "rate_limited": 429}


@blocks.get("/blocks")
@describe(BlockPage, query=BlocksQuery, errors=(400, 401))
async def list_blocks() -> ResponseReturnValue:
    """The caller's block list, oldest block first."""
    svc = services()
    me = await current_user(svc)
    after, limit = room_paging(request.args)
    if after is not None and NUL in after[1]:  # never in a cursor of ours; PostgreSQL refuses it
        raise bad_request("cursor must be a next_cursor value from an earlier page, unchanged")
    found = await BlockTable(svc.db).page(me.user_id, after, limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return jsonify(
        {
            "blocks": [entry.to_wire() for entry in page],
            "next_cursor": encode_cursor(page[-1].since, page[-1].user.user_id) if more else None,
        }
    )


@blocks.put("/blocks/<user_id>")
@describe(BlockReply, errors=(401, 403, 404, 409, 429))
async def block_user(user_id: str) -> ResponseReturnValue:
    """Block the user: no private message passes between them and the caller, either way, until unblocked."""
    svc = services()
    done = await _change(svc, user_id, block=True)
    assert done.since is not None
    return jsonify({"block": BlockedUser(done.user, done.since).to_wire()})


@blocks.delete("/blocks/<user_id>")
@describe(status=204, errors=(401, 403, 404, 429))
async def unblock_user(user_id: str) -> ResponseReturnValue:
    """Unblock the user (204 also when they were not blocked)."""
    await _change(services(), user_id, block=False)
    return "", 204


async def _change(svc: Services, user_id: str, *, block: bool) -> BlockChange:
    me = await current_user(svc)
    if svc.blocks is None:
        raise ApiError(500, "internal", "this server keeps no block lists")
    try:
        return await svc.blocks.change(me, user_id, block)
    except BlockRefused as refused:
        wait = {} if refused.retry_after is None else {"Retry-After": str(refused.retry_after)}
        raise ApiError(_STATUS[refused.code], refused.code, refused.message, wait) from None
