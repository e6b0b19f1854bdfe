"""The session's half of a moderation command: find the target, then hand it to the room.

A session reads what a room should not wait for (the target user, which
of the two users are site administrators and who owns the configured
rooms: rare commands, one query each) and tells the room a :class:`actors.messages.ModerateRoom`; the room
decides and acts (:mod:`actors.moderator`). Refusals here: ``user_not_found``
and ``internal`` (the database could not be read; nothing changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from actors.handle import SessionHandle
from actors.messages import ModerateRoom, RoomMsg
from storage.interface import SiteRoles
from wire import events
from wire.moderation import Moderate as Moderate  # the command, for the session's dispatch

if TYPE_CHECKING:
    from actors.session import SessionDeps

TellRoom = Callable[[str, RoomMsg, object], Awaitable[object]]


class SiteAdmins(Protocol):
    """What a session asks of :class:`storage.interface.ModerationStore`."""

    async def site_roles(self, user_ids: list[str]) -> SiteRoles: ...


async def request_moderation(
    command: Moderate, session: SessionHandle, deps: SessionDeps, tell_room: TellRoom
) -> None:
    ref, store, find_user = command.ref, deps.moderation, deps.find_user
    if store is None:
        session.deliver(events.error_frame("internal", "this server keeps no moderation", ref))
        return
    try:
        target = await find_user(command.user_id)
        site = None if target is None else await store.site_roles([session.user.user_id, target.user_id])
    except Exception as exc:  # the database: nothing was done, the client may send it again
        message = f"the users could not be read ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message, ref))
        return
    if target is None or site is None:
        session.deliver(events.error_frame("user_not_found", f"there is no user {command.user_id!r}", ref))
        return
    await tell_room(command.room_id, ModerateRoom(session, command, target, site, deps.registry), ref)
