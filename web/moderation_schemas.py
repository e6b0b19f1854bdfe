"""The body of ``GET /api/v1/rooms/{room_id}/moderation`` (:mod:`web.moderation_api`), for the OpenAPI document.

Descriptive only, as every model in :mod:`web.schemas`: the handler checks
its parameters itself (:func:`web.validation.paging`, the history's rules).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from web.schemas import User, _Wire

Action = Literal[
    "grant_admin",
    "revoke_admin",
    "kick",
    "mute",
    "unmute",
    "ban",
    "unban",
    "add_member",
    "remove_member",
    "accept_invite",
]


class LoggedAction(_Wire):
    id: int = Field(
        ge=1, description="Increasing in the order the actions were taken; pass as `before` to page."
    )
    action: Action
    room_id: str
    actor: User = Field(description="Who took the action.")
    user: User = Field(description="Whom it was taken on.")
    reason: str | None = Field(description="As the actor gave it (kick, mute, ban); null: none given.")
    until: int | None = Field(
        description="Mute and ban: when it ends by itself, ms since the Unix epoch; null: until lifted (or not timed)."
    )
    timestamp: int = Field(description="When it was taken, ms since the Unix epoch.")


class ModerationLog(_Wire):
    actions: list[LoggedAction] = Field(description="Newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the older entries; null when these are the oldest."
    )
