"""A private room's members, as its room actor checks and changes them.

Contract:

* **Owner**: the room actor (:class:`actors.room.Room` and the cluster's
  :class:`cluster.room.ClusterRoom`); the member set lives on the room's
  :class:`actors.moderation.Moderation` (``members``, None for a public
  room), loaded when the room starts and so kept across a restart.
* **The gate** (:func:`outsider`): for a private room only (a public one
  pays one ``is None`` test per message), a message from a session whose
  user is not a member (``join``, ``group``, ``leave``, ``online``,
  ``typing``, moderation) is answered ``room_not_found``, word for word
  what a room that does not exist answers, so outsiders learn nothing. A
  site administrator's moderation commands pass (they count as owner:
  they may add themselves). A set lookup; no query.
* **Changes**: ``add_member``, ``remove_member`` (and ``ban``, which ends
  membership) are moderation actions (:mod:`actors.moderator`): checked
  here (:func:`refusal`), stored with their log entry, carried out on every
  process. A removed user's sessions are taken out at once, as a kicked
  user's are. An accepted invite (:func:`accept`) is stored by
  :meth:`storage.interface.ModerationStore.accept_invite` and carried out
  the same way; it is also applied here first, so the user's ``join`` on
  this process, which the reply lets them send, is never refused.
* **Failure policy**: a write that fails is answered ``internal`` and
  changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.handle import SessionHandle
from actors.messages import (
    AcceptInvite,
    JoinRoom,
    LeaveRoom,
    ListMembers,
    ModerateRoom,
    PostGroup,
    ReviseMessage,
    RoomMsg,
    RoomTyping,
)
from actors.moderation import Level, Moderation, Refusal
from storage.interface import MEMBERS_MAX, ModerationStore
from wire import events, invites
from wire.commands import Ref

if TYPE_CHECKING:
    from actors.moderator import Moderator
    from actors.room_state import RoomState

MEMBER_ACTIONS = frozenset({"add_member", "remove_member"})


def not_found(room_id: str, ref: Ref) -> events.OutFrame:
    """What an outsider is told: the very answer for a room that does not exist."""
    return events.error_frame("room_not_found", f"there is no room {room_id!r}", ref)


def outsider(message: RoomMsg, state: RoomState) -> bool:
    """Refuse a non-member's message to a private room (``room_not_found``); True if refused.

    Call only when ``state.moderation.members`` is not None.
    """
    members = state.moderation.members
    assert members is not None
    session: SessionHandle
    match message:
        case JoinRoom(session, ref) | LeaveRoom(session, ref) | ListMembers(session, ref):
            pass
        case PostGroup(session, _, ref) | RoomTyping(session, ref):
            pass
        case ModerateRoom(session, command, _, site):
            ref = command.ref
            if session.user.user_id in site.admins:
                return False
        case ReviseMessage(session, revision, site):  # else a delete's forbidden would tell which ids exist
            ref = revision.ref
            if site is not None and session.user.user_id in site.admins:
                return False
        case _:
            return False
    if session.user.user_id in members:
        return False
    session.deliver(not_found(state.info.room_id, ref))
    return True


def refusal(action: str, moderation: Moderation, target_id: str, actor: Level) -> Refusal | None:
    """Why ``add_member`` or ``remove_member`` cannot be done here; None: it can (levels are checked after)."""
    if action not in MEMBER_ACTIONS:
        return None
    members = moderation.members
    if members is None:
        return Refusal("bad_request", "this room is public: everyone may join it, it has no member list")
    if actor < Level.ADMIN:
        return Refusal("forbidden", "only the room's admins and its owner add and remove members")
    if action == "add_member":
        if target_id in moderation.bans:
            return Refusal("forbidden", "this user is banned from the room: lift the ban first")
        if target_id not in members and len(members) >= MEMBERS_MAX:
            return Refusal("forbidden", f"the room has {MEMBERS_MAX} members, the most it may have")
    elif target_id not in members:
        return Refusal("bad_request", "this user is not a member of the room")
    return None


async def accept(
    message: AcceptInvite, state: RoomState, store: ModerationStore | None, moderator: Moderator
) -> None:
    """Turn the session's user's invite into membership; ``invite_accepted``, then the room is told."""
    session, ref = message.session, message.ref
    room_id, members = state.info.room_id, state.moderation.members
    if members is None:
        session.deliver(events.error_frame("bad_request", f"room {room_id} is public: join it", ref))
        return
    user = session.user
    if user.user_id in members:
        session.deliver(events.encode(events.with_ref(invites.invite_accepted(state.info), ref)))
        return
    if store is None:
        session.deliver(events.error_frame("internal", "this server keeps no memberships", ref))
        return
    try:
        action = await store.accept_invite(room_id, user)
    except Exception as exc:  # the database: nothing changed, the client may send it again
        message_text = f"the invite could not be accepted ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message_text, ref))
        return
    if action is None:  # no invite (or it was withdrawn by a ban): as for a room that does not exist
        session.deliver(not_found(room_id, ref))
        return
    members.add(user.user_id)
    session.deliver(events.encode(events.with_ref(invites.invite_accepted(state.info), ref)))
    await moderator.carry_out(action)
