"""Edits and deletes of room messages: the room's half (:class:`Reviser`) and the session's (:func:`request_revision`).

Contract:

* **Owner**: a room actor (:class:`actors.room.Room`) makes a :class:`Reviser`
  for each :class:`actors.messages.ReviseMessage` it handles, in its own
  task, so a room decides on its messages' changes one at a time, in its
  order. It keeps no state: the store and the edit window come with the
  message (the session's :class:`actors.messages.RevisionSettings`).
* **Checks**, in the room: an edit needs the session to have joined the
  room (``not_in_room``, as a post), its user not muted (``muted``, as a
  post), edits turned on (``limits.edit_window_seconds`` above 0, else
  ``edit_window_closed``). Then, in the storage transaction that holds the
  message's row locked (:class:`storage.interface.RevisionStore`): the
  message exists in this room and is not deleted (``message_not_found``),
  an edit is its sender's (``forbidden``) within the window from when it
  was sent (``edit_window_closed``); a delete is its sender's, or anyone's
  whose level in the room is admin or above, site administrators included
  (``forbidden``). A delete needs no join, as moderating needs none.
* **Order**: stored first (awaited in the room's loop, like a moderation
  action: changes are rare and must be durable before anyone sees them),
  then the requester gets ``edited`` / ``deleted`` and the room an ``edit``
  / ``delete`` event through its ordered delivery queue, so in its order
  among the messages. A cluster room publishes the event on the room's
  channel instead (:mod:`cluster.revisions`).
* **Failure policy**: a write that fails is answered ``internal`` and
  changes nothing; a crash is the room's (its supervisor restarts it).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from actors.delivery import Delivery, OrderedDelivery
from actors.handle import SessionHandle
from actors.messages import ReviseMessage as ReviseMessage  # the room's message, for its dispatch
from actors.messages import RevisionSettings as RevisionSettings
from actors.messages import RoomMsg
from actors.moderation import Level, Refusal
from actors.moderator import Moderator
from actors.room_state import RoomState
from storage.interface import MessageFacts, Revision
from wire import events, revisions
from wire.clock import now_ms
from wire.events import OutFrame
from wire.revisions import Delete, Edit

if TYPE_CHECKING:
    from actors.session import SessionDeps

TellRoom = Callable[[str, RoomMsg, object], Awaitable[object]]


def decide(
    command: Edit | Delete, room_id: str, user_id: str, level: Level, window_ms: int, at: int
) -> Callable[[MessageFacts | None], Refusal | None]:
    """The check made on the stored message, inside the transaction that changes it (pure)."""
    return functools.partial(_decide, command, room_id, user_id, level, window_ms, at)


def _decide(
    command: Edit | Delete,
    room_id: str,
    user_id: str,
    level: Level,
    window_ms: int,
    at: int,
    facts: MessageFacts | None,
) -> Refusal | None:
    if facts is None or facts.room_id != room_id or facts.deleted:
        return Refusal("message_not_found", f"there is no message {command.message_id} in room {room_id}")
    own = facts.sender.user_id == user_id
    if isinstance(command, Edit):
        if not own:
            return Refusal("forbidden", "only its sender can edit a message")
        if at - facts.created_at > window_ms:
            seconds = f"{window_ms / 1000:g}"
            return Refusal("edit_window_closed", f"a message can be edited for {seconds} s after it is sent")
        return None
    if not own and level < Level.ADMIN:
        return Refusal("forbidden", "only its sender or the room's admins and owner can delete a message")
    return None


class Reviser:
    def __init__(
        self,
        state: RoomState,
        delivery: OrderedDelivery,
        fan_out: Callable[[OutFrame], None],
        moderator: Moderator,
    ) -> None:
        self._state = state
        self._delivery = delivery
        self._fan_out = fan_out
        self._moderator = moderator

    async def handle(self, request: ReviseMessage) -> None:
        """Check, store, answer, then tell the room (see the module's contract)."""
        session, command, ref = request.session, request.command, request.command.ref
        room_id, settings = self._state.info.room_id, request.settings
        editing = isinstance(command, Edit)
        if editing and not self._state.is_member(session.session_id):
            session.deliver(events.error_frame("not_in_room", f"join room {room_id} before editing", ref))
            return
        if editing and self._moderator.refuse_post(session, ref):
            return
        if settings is None:
            session.deliver(events.error_frame("internal", "this server keeps no edits or deletes", ref))
            return
        if editing and settings.edit_window <= 0:
            refusal = "editing messages is turned off on this server"
            session.deliver(events.error_frame("edit_window_closed", refusal, ref))
            return
        user, at = session.user, now_ms()
        level = self._state.moderation.level(user.user_id, request.site)
        content = command.content if isinstance(command, Edit) else None
        check = decide(command, room_id, user.user_id, level, round(settings.edit_window * 1000), at)
        try:
            refused, facts = await settings.store.revise(
                Revision(command.message_id, user, at, content), check
            )
        except Exception as exc:  # the database: nothing changed, the client may send it again
            message = f"the change could not be stored ({type(exc).__name__}); nothing changed, send it again"
            session.deliver(events.error_frame("internal", message, ref))
            return
        if refused is not None or facts is None:
            refused = refused or Refusal("message_not_found", f"there is no message {command.message_id}")
            session.deliver(events.error_frame(refused.code, refused.message, ref))
            return
        if content is not None:
            reply = revisions.edited(room_id, command.message_id, at)
            event = revisions.edit_event(room_id, command.message_id, content, at, facts.sender)
        else:
            reply = revisions.deleted(room_id, command.message_id, at)
            event = revisions.delete_event(room_id, command.message_id, at, user)
        session.deliver(events.encode(events.with_ref(reply, ref)))
        await self.publish(event)

    async def publish(self, event: dict[str, Any]) -> None:
        """Tell the room's members, in its order among the messages: here, in one process."""
        frame = events.encode(event)
        await self._delivery.push(Delivery(None, lambda: self._fan_out(frame)))


async def request_revision(
    command: Edit | Delete, session: SessionHandle, deps: SessionDeps, tell_room: TellRoom
) -> None:
    """The session's half: count it, for a delete read who is a site administrator (one query), tell the room.

    Counted here, before the room: each change is a write awaited in the
    room's loop, so a member looping edits must not hold the room up.
    """
    site, ref = None, command.ref
    settings = deps.revisions
    if settings is not None and settings.throttle is not None:
        wait = await settings.throttle(session.user.user_id)
        if wait is not None:
            message = f"too many edits and deletes of messages; try again in {wait} s"
            session.deliver(events.error_frame("rate_limited", message, ref))
            return
    if isinstance(command, Delete) and deps.moderation is not None:
        try:
            site = await deps.moderation.site_roles([session.user.user_id])
        except Exception as exc:  # the database: nothing was done, the client may send it again
            message = f"your roles could not be read ({type(exc).__name__}); send it again"
            session.deliver(events.error_frame("internal", message, ref))
            return
    await tell_room(command.room_id, ReviseMessage(session, command, site, deps.revisions), ref)
