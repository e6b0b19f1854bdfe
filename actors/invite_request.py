"""The session's half of private rooms' invites: ``invite``, ``accept_invite``, ``decline_invite``.

``invite`` and ``decline_invite`` are decided by the database alone
(:class:`storage.interface.Invitations`): an invite changes no room's
members, so no room actor need wait for it, and the checks (the inviter is
a member, the invitee is not, is not banned, has room for one more
invite) hold in one transaction whichever process takes them. The invitee's
sessions then get ``invited`` through the registry (in cluster mode, on
every process, over the user's channel). Any member may invite.

The block gate runs first, as for private messages (:mod:`actors.block_request`):
between users of whom either blocks the other, an invite is refused with
``blocked`` and the invitee hears nothing. Refused rather than dropped: the
inviter would otherwise wait for an answer that cannot come, and a blocked
user learns no more than a private message would already tell them.

``accept_invite`` goes to the room (:class:`actors.messages.AcceptInvite`),
which owns the member set it changes (:mod:`actors.membership`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from actors.block_request import reachable
from actors.handle import SessionHandle
from actors.messages import AcceptInvite, RoomMsg, ShareInvite
from actors.ref import ActorGone
from storage.interface import Invite, InviteOutcome
from wire import events, invites
from wire.invites import AnswerInvite as AnswerInvite  # the commands, for the session's dispatch
from wire.invites import InviteUser as InviteUser

if TYPE_CHECKING:
    from actors.session import SessionDeps

TellRoom = Callable[[str, RoomMsg, object], Awaitable[object]]

_REFUSED = {
    InviteOutcome.PUBLIC: (
        "bad_request",
        "this room is public: anyone may join it, send them its id instead",
    ),
    InviteOutcome.MEMBER: ("bad_request", "this user is a member of the room already"),
    InviteOutcome.BANNED: ("forbidden", "this user is banned from the room: lift the ban first"),
    InviteOutcome.FULL: (
        "forbidden",
        "this user has as many pending invites as they may: they must answer some first",
    ),
    InviteOutcome.ROOM_FULL: ("forbidden", "the room has as many members as it may"),
}


async def request_invite(command: InviteUser, session: SessionHandle, deps: SessionDeps) -> None:
    ref, store = command.ref, deps.invitations
    if store is None:
        session.deliver(events.error_frame("internal", "this server keeps no invites", ref))
        return
    target = await reachable(command.user_id, session, deps, ref, what="invites")
    if target is None:
        return
    try:
        outcome = await store.invite(command.room_id, session.user, target)
    except Exception as exc:  # the database: nothing changed, the client may send it again
        message = f"the invite could not be stored ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message, ref))
        return
    if isinstance(outcome, Invite):
        session.deliver(events.encode(events.with_ref(invites.invite_sent(command.room_id, target), ref)))
        with contextlib.suppress(
            ActorGone
        ):  # the server is stopping: the invite is stored, listed at /me/invites
            await deps.registry.tell(
                ShareInvite(
                    target.user_id, invites.invited(outcome.room, outcome.inviter, outcome.created_at)
                )
            )
    elif outcome is InviteOutcome.NO_ROOM:
        session.deliver(events.error_frame("room_not_found", f"there is no room {command.room_id!r}", ref))
    else:
        code, message = _REFUSED[outcome]
        session.deliver(events.error_frame(code, message, ref))


async def answer_invite(
    command: AnswerInvite, session: SessionHandle, deps: SessionDeps, tell_room: TellRoom
) -> None:
    ref, store = command.ref, deps.invitations
    if command.accept:
        await tell_room(command.room_id, AcceptInvite(session, ref), ref)
        return
    if store is None:
        session.deliver(events.error_frame("internal", "this server keeps no invites", ref))
        return
    try:
        declined = await store.decline(command.room_id, session.user.user_id)
    except Exception as exc:  # the database: nothing changed, the client may send it again
        message = f"the invite could not be declined ({type(exc).__name__}); send it again"
        session.deliver(events.error_frame("internal", message, ref))
        return
    if declined:
        session.deliver(events.encode(events.with_ref(invites.invite_declined(command.room_id), ref)))
    else:
        session.deliver(events.error_frame("room_not_found", f"there is no room {command.room_id!r}", ref))
