"""The session's half of typing notices: to the room, or, past the block gate, to the private peer.

A room checks membership and the rate itself (:class:`actors.typing.TypingGate`).
A notice to a peer goes to the registry (:class:`actors.typing.PeerTypingGate`
rates it) once the peer is known to exist and neither user blocks the other;
a notice that a block stops is dropped without a word, like one the rate
drops, so that typing tells nobody about blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from actors.handle import SessionHandle
from actors.messages import PrivateTyping, RoomMsg, RoomTyping
from wire import events
from wire.commands import Typing

if TYPE_CHECKING:
    from actors.session import SessionDeps

TellRoom = Callable[[str, RoomMsg, object], Awaitable[object]]


async def request_typing(
    command: Typing, session: SessionHandle, deps: SessionDeps, tell_room: TellRoom
) -> None:
    ref = command.ref
    if command.room_id is not None:
        await tell_room(command.room_id, RoomTyping(session, ref), ref)
        return
    assert command.peer_id is not None
    target = await deps.find_user(command.peer_id)
    if target is None:
        session.deliver(events.error_frame("user_not_found", f"there is no user {command.peer_id!r}", ref))
        return
    if target.user_id == session.user.user_id:
        return
    if deps.blocks is not None:
        try:
            relations = await deps.blocks.relations(session.user.user_id)
        except Exception:  # the database: a hint is not worth an error; the next one tries again
            return
        if relations.bars(target.user_id):
            return
    await deps.registry.tell(PrivateTyping(session, target))
