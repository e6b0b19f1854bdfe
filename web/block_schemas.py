"""The bodies of the block-list endpoints (:mod:`web.blocks_api`), for the OpenAPI document.

Descriptive only, as every model in :mod:`web.schemas`: the handlers check
their parameters themselves, with the room list's paging rules
(:func:`web.room_pages.room_paging`).
"""

from __future__ import annotations

from pydantic import Field

from web.room_pages import ROOMS_DEFAULT, ROOMS_MAX
from web.schemas import RoomsQuery, User, _Wire


class BlockedUser(_Wire):
    user: User = Field(description="The blocked user: no private message passes between them and the caller.")
    since: int = Field(description="When the block was made, ms since the Unix epoch.")


class BlockPage(_Wire):
    blocks: list[BlockedUser] = Field(description="Oldest block first.")
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last.")


class BlockReply(_Wire):
    block: BlockedUser


class BlocksQuery(RoomsQuery):
    """Paged as the room list is: the same ``cursor``, the same bounds on ``limit``."""

    limit: int = Field(default=ROOMS_DEFAULT, ge=1, le=ROOMS_MAX, description="At most this many blocks.")
