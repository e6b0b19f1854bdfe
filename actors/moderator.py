"""A room actor's moderation: the checks on its join and post paths, its actions, and their ends.

Contract:

* **Owner**: one :class:`Moderator` per incarnation of a room actor
  (:class:`actors.room.Room`), working on the room's
  :class:`actors.moderation.Moderation`, which lives on its
  :class:`actors.room_state.RoomState` and so survives a restart. Only the
  room's own task calls it; the :meth:`Moderator.watch` task only tells
  the room (``EndSanctions``). Its notices go through the room's delivery
  queue to the room's ``fan_out``; a room whose notices and departures
  travel otherwise (the cluster's, :mod:`cluster.moderation`) overrides
  :meth:`Moderator.expel`, :meth:`Moderator.present` and :meth:`Moderator.carry_out`.
* **Checks**: :meth:`refuse_join` (``banned``) and :meth:`refuse_post`
  (``muted``) answer the session and return True when they refuse. Both
  are in-memory lookups; the post check reads the clock only for a user
  who has a mute.
* **Actions** (:class:`actors.messages.ModerateRoom`): checked against the
  levels (:func:`actors.moderation.refusal`), stored with their log entry
  (:class:`storage.interface.ModerationStore`, awaited in the room's loop:
  actions are rare and must be durable before they show), then applied
  (:meth:`apply`): the sender gets ``moderated``, the room a ``system``
  notice through its delivery queue, so in its order among the messages;
  a kicked or banned user's sessions get ``kicked`` and leave at once, and
  so do a removed member's (:mod:`actors.membership`).
* **Ends**: :meth:`watch` sleeps until the earliest mute or ban ends and
  then tells the room, which drops it and announces it (no actor).
* **Failure policy**: a write that fails is answered ``internal`` and
  changes nothing; a crash is the room's (its supervisor restarts it).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from datetime import UTC, datetime

import trio

from actors import membership
from actors.delivery import Delivery, OrderedDelivery
from actors.handle import SessionHandle
from actors.messages import EndSanctions, ModerateRoom, RegistryMsg, RoomMsg, ShareInvite
from actors.moderation import Moderation, Sanction, refusal
from actors.ref import ActorGone, ActorRef, MailboxFull
from actors.room_state import Left, RoomState
from storage.interface import ModerationAction, ModerationStore
from wire import events, invites
from wire.clock import now_ms
from wire.commands import Ref
from wire.events import OutFrame

_REFUSED = {
    "banned": "you are banned from room {room} {until}",
    "muted": "you are muted in room {room} {until}; you can still read",
}


def _until_text(until: int | None) -> str:
    if until is None:
        return "until it is lifted"
    return f"until {datetime.fromtimestamp(until / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"


class Moderator:
    def __init__(
        self,
        state: RoomState,
        store: ModerationStore | None,
        delivery: OrderedDelivery,
        fan_out: Callable[[OutFrame], None],
    ) -> None:
        self._state = state
        self._store = store
        self._delivery = delivery
        self._fan_out = fan_out
        self._changed = trio.Event()

    async def handle(self, message: ModerateRoom | EndSanctions) -> None:
        """The room's messages for moderation: a session's command, or the timer's."""
        if isinstance(message, ModerateRoom):
            await self.act(message)
        else:
            await self.end_expired()

    async def announce(self, frame: OutFrame) -> None:
        """Queue a notice to every member, in the room's order among its messages."""
        await self._delivery.push(Delivery(None, lambda: self._fan_out(frame)))

    async def expel(self, sessions: list[SessionHandle], notice: OutFrame) -> None:
        """Take a user's sessions out, then announce ``notice`` and, as they have gone, ``leave``."""
        outcomes = [self._state.leave(s.session_id) for s in sessions]
        await self.announce(notice)
        if Left.LAST in outcomes:
            await self.announce(events.notice("leave", self._state.info.room_id, sessions[0].user))

    def refuse_join(self, session: SessionHandle, ref: Ref) -> bool:
        """Refuse a banned user's join (``banned``, with when the ban ends); True if refused."""
        moderation = self._state.moderation
        banned = moderation.bans and session.user.user_id in moderation.bans
        return bool(banned) and self._refuse(moderation.ban_of, "banned", session, ref)

    def refuse_post(self, session: SessionHandle, ref: Ref) -> bool:
        """Refuse a muted user's post (``muted``, with when the mute ends); True if refused, nothing stored."""
        moderation = self._state.moderation
        muted = moderation.mutes and session.user.user_id in moderation.mutes  # the clock only for them
        return bool(muted) and self._refuse(moderation.mute_of, "muted", session, ref)

    def _refuse(
        self, sanction_of: Callable[[str, int], Sanction | None], code: str, session: SessionHandle, ref: Ref
    ) -> bool:
        sanction = sanction_of(session.user.user_id, now_ms())
        if sanction is None:
            return False
        room_id = self._state.info.room_id
        message = _REFUSED[code].format(room=room_id, until=_until_text(sanction.until))
        session.deliver(events.sanctioned(code, message, sanction.until, ref))
        return True

    async def act(self, request: ModerateRoom) -> None:
        """Check, store, then carry out a session's moderation command."""
        session, command, target = request.session, request.command, request.target
        room_id, ref, actor = self._state.info.room_id, command.ref, session.user
        moderation = self._state.moderation
        actor_level = moderation.level(actor.user_id, request.site)
        target_level = moderation.level(target.user_id, request.site)
        refused = membership.refusal(command.action, moderation, target.user_id, actor_level) or refusal(
            command.action, actor_level, target_level
        )
        if refused is not None:
            session.deliver(events.error_frame(refused.code, refused.message, ref))
            return
        if command.action == "kick" and not await self.present(target.user_id):
            session.deliver(
                events.error_frame("not_in_room", f"{target.username} is not in room {room_id}", ref)
            )
            return
        now = now_ms()
        until = command.ends(now)
        if until is not None and until <= now:
            session.deliver(events.error_frame("bad_request", "until is in the past", ref))
            return
        if self._store is None:
            session.deliver(events.error_frame("internal", "this server keeps no moderation", ref))
            return
        action = ModerationAction(room_id, command.action, actor, target, now, command.reason, until)
        try:
            await self._store.record(action)
        except Exception as exc:  # the database: nothing changed, the moderator may send it again
            message = f"the action could not be stored ({type(exc).__name__}); nothing changed, send it again"
            session.deliver(events.error_frame("internal", message, ref))
            return
        session.deliver(events.moderated(action.action, room_id, target, ref, until=until))
        if action.action == "add_member" and request.registry is not None:
            self._tell_added(request.registry, action)
        await self.carry_out(action)

    def _tell_added(self, registry: ActorRef[RegistryMsg], action: ModerationAction) -> None:
        """The added member's sessions, on every process, learn of the room at once (else at their next list).

        Never waits: a room does not wait on the registry; a full mailbox loses only this hint.
        """
        told = invites.added(self._state.info, action.actor, action.at)
        with contextlib.suppress(MailboxFull, ActorGone):
            registry.tell_nowait(ShareInvite(action.target.user_id, told))

    async def present(self, user_id: str) -> bool:
        """Whether the user has a session in the room (a kick needs one)."""
        return bool(self._state.sessions_of(user_id))

    async def carry_out(self, action: ModerationAction) -> None:
        """Carry out a stored action wherever the room has members: here, in one process."""
        await self.apply(action)

    async def apply(self, action: ModerationAction) -> None:
        """Carry out a stored action here: memory, then the notices, then the kicked sessions leave.

        The cluster mode calls this too, for an action another process stored.
        """
        self._state.moderation.apply(action)
        if action.action in ("mute", "ban", "unmute", "unban"):
            self._wake()
        notice = events.moderation_notice(
            action.action,
            action.room_id,
            action.target,
            action.actor,
            reason=action.reason,
            until=action.until,
        )
        sessions = self._state.sessions_of(action.target.user_id)
        if action.action not in ("kick", "ban", "remove_member") or not sessions or action.actor is None:
            await self.announce(notice)
            return
        banned, removed = action.action == "ban", action.action == "remove_member"
        told = events.kicked(
            action.room_id, action.actor, action.reason, banned=banned, until=action.until, removed=removed
        )
        for session in sessions:
            session.deliver(told)
        await self.expel(sessions, notice)

    async def reload(self) -> None:
        """Read the room's roles and sanctions again, over what was loaded when the room started.

        A cluster room calls it once it hears its channel: an action another
        process stored between the first load and then was published to nobody
        here, and is in the database. One heard since is applied after this,
        and applying an action twice changes nothing more. A database that
        cannot be read leaves the first load (the room's channel still brings
        every action from now on).
        """
        if self._store is None:
            return
        try:
            loaded = await self._store.load(self._state.info.room_id)
        except Exception:
            return
        self._state.moderation = Moderation(loaded)
        self._wake()

    async def end_expired(self) -> None:
        """Drop the mutes and bans that have ended, and tell the room of each."""
        room_id = self._state.info.room_id
        for kind, sanction in self._state.moderation.expire(now_ms()):
            frame = events.moderation_notice(
                f"un{kind}", room_id, sanction.user, None, reason=None, until=None
            )
            await self.announce(frame)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def watch(self, ref: ActorRef[RoomMsg]) -> None:
        """Tell the room when the earliest mute or ban ends; wake up again whenever they change."""
        while True:
            changed = self._changed
            end = self._state.moderation.next_end()
            wait = math.inf if end is None else max(0.0, (end - now_ms()) / 1000) + 0.001
            with trio.move_on_after(wait):
                await changed.wait()
                continue
            try:
                await ref.tell(EndSanctions())
            except ActorGone:
                return
            await changed.wait()  # end_expired always wakes us, whatever it found
