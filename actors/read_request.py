"""The session's half of ``read``: raise a marker, answer where it stands, tell the user's other sessions.

The marker itself is checked, coalesced and written by
:class:`actors.read_markers.ReadMarkers`; this module only turns the
command into that call and its outcome into frames. Refusals:
``room_not_found``, ``user_not_found`` and ``internal`` (the database could
not be read, or the server keeps no markers; nothing changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.handle import SessionHandle
from actors.messages import ShareReadMarker
from wire import events
from wire.commands import MarkRead

if TYPE_CHECKING:
    from actors.session import SessionDeps


async def request_read(command: MarkRead, session: SessionHandle, deps: SessionDeps) -> None:
    markers, ref, user_id = deps.read_markers, command.ref, session.user.user_id
    if markers is None:
        session.deliver(events.error_frame("internal", "read markers are not kept by this server", ref))
        return
    try:
        if command.room_id is not None:
            marked = await markers.mark_room(user_id, command.room_id, command.up_to)
            if marked is None:
                session.deliver(
                    events.error_frame("room_not_found", f"there is no room {command.room_id!r}", ref)
                )
                return
        else:
            assert command.peer_id is not None
            if await deps.find_user(command.peer_id) is None:
                session.deliver(
                    events.error_frame("user_not_found", f"there is no user {command.peer_id!r}", ref)
                )
                return
            marked = await markers.mark_peer(user_id, command.peer_id, command.up_to)
    except Exception as exc:  # the database: nothing was changed, the client may send it again
        message = f"the marker could not be read ({type(exc).__name__})"
        session.deliver(events.error_frame("internal", message, ref))
        return
    session.deliver(events.read_marker(marked.up_to, ref, room_id=command.room_id, peer_id=command.peer_id))
    if marked.moved:
        share = ShareReadMarker(user_id, marked.up_to, command.room_id, command.peer_id, session.session_id)
        await deps.registry.tell(share)
