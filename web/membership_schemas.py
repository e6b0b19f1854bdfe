"""The bodies of the private rooms' endpoints (:mod:`web.membership_api`), for the OpenAPI document."""

from __future__ import annotations

from pydantic import Field

from web.schemas import Room, User, _Wire


class MemberList(_Wire):
    members: list[User] = Field(
        description="The private room's members, in the order they came; at most 1000."
    )


class PendingInvite(_Wire):
    room: Room = Field(description="The private room the caller is invited to.")
    inviter: User
    created_at: int = Field(
        description="When the invite was sent (or last renewed), ms since the Unix epoch."
    )


class InviteList(_Wire):
    invites: list[PendingInvite] = Field(description="Newest first; at most 50 are pending per user.")
