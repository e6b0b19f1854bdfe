"""Moderation in cluster mode: an action stored by one process is carried out by every process.

Contract (what differs from :class:`actors.moderator.Moderator`, which it extends):

* **Carrying out**: the process that took the command stores it (as in one
  process), answers the moderator, then publishes the action on the room's
  channel instead of applying it. Every process with members in the room,
  that one included, receives it in the room's order among the messages and
  applies it (:class:`actors.messages.ApplyModeration`): its memory of the
  room's mutes and bans, the notice to its own members, and the departure of
  its own sessions of a kicked or banned user. So every member gets one
  notice, and every process refuses the muted and the banned alike.
* **Departures** go through Redis's presence counts like any leave
  (``leave``): the room's ``leave`` notice comes once, when the user's last
  session anywhere has gone.
* **Presence**: a kick needs the target in the room on any process, read
  from Redis.
* **Joining late**: a room that starts reads the actions from the database,
  then hears its channel, then reads them again (:meth:`actors.moderator.Moderator.reload`),
  so one published in between is not missed.
* **Redis unreachable**: the action is stored but cannot be published; it
  is carried out on this process at once, so that it holds at least where
  it was asked. A process whose room starts later reads it from the
  database; one whose room is already running learns it only when that
  room starts again (a known gap: no replay of actions missed while Redis
  was away).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.handle import SessionHandle
from actors.moderator import Moderator
from cluster.link import ClusterUnavailable, RedisLink
from storage.interface import ModerationAction
from wire.events import OutFrame
from wire.shapes import User

Leave = Callable[[SessionHandle], Awaitable[None]]


class ClusterModerator(Moderator):
    def __init__(self, *args: Any, link: RedisLink, leave: Leave, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._link = link
        self._leave = leave

    async def present(self, user_id: str) -> bool:
        try:
            users = await self._link.room_users(self._state.info.room_id)
        except ClusterUnavailable:
            return await super().present(user_id)  # the best this process knows
        return any(u["user_id"] == user_id for u in users)

    async def carry_out(self, action: ModerationAction) -> None:
        channel = self._link.room_channel(action.room_id)
        try:
            await self._link.publish(channel, action_payload(action))
        except ClusterUnavailable:
            # Stored, not yet everywhere: carried out here so that it holds at least where it was asked.
            await self.apply(action)

    async def expel(self, sessions: list[SessionHandle], notice: OutFrame) -> None:
        await self.announce(notice)
        for session in sessions:
            await self._leave(session)


def action_payload(action: ModerationAction) -> dict[str, Any]:
    """A moderation action as published on its room's channel."""
    return {
        "k": "moderation",
        "room_id": action.room_id,
        "action": action.action,
        "actor": None if action.actor is None else action.actor.to_wire(),
        "target": action.target.to_wire(),
        "at": action.at,
        "reason": action.reason,
        "until": action.until,
    }


def action_of(payload: dict[str, Any]) -> ModerationAction:
    """The action a publication carries (:func:`action_payload`)."""
    actor, target = payload.get("actor"), payload["target"]
    return ModerationAction(
        room_id=str(payload["room_id"]),
        action=str(payload["action"]),
        actor=None if actor is None else User(actor["user_id"], actor["username"]),
        target=User(target["user_id"], target["username"]),
        at=int(payload["at"]),
        reason=payload.get("reason"),
        until=None if payload.get("until") is None else int(payload["until"]),
    )
