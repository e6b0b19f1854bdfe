"""Edits and deletes in cluster mode: a change stored by one process reaches the room's members on every process.

Contract (what differs from :class:`actors.revisions.Reviser`, which it extends):
the process that took the command checks and stores the change as in one
process and answers the requester, then publishes the room's ``edit`` or
``delete`` event on the room's channel instead of delivering it. Every
process with members in the room, that one included, receives it in the
room's order among the messages (:func:`event_of`) and gives it to its own
members. If Redis cannot be reached the change is stored and its event is
delivered on this process only; the others show it in their history, and
their clients find it there when they recover.
"""

from __future__ import annotations

from typing import Any

from actors.messages import Published
from actors.revisions import Reviser
from cluster.link import ClusterUnavailable, RedisLink
from wire import events


class ClusterReviser(Reviser):
    def __init__(self, *args: Any, link: RedisLink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._link = link

    async def publish(self, event: dict[str, Any]) -> None:
        channel = self._link.room_channel(self._state.info.room_id)
        try:
            await self._link.publish(channel, {"k": "revision", "event": event})
        except ClusterUnavailable:
            await super().publish(event)  # stored; shown at least where it was asked


def event_of(payload: dict[str, Any]) -> Published:
    """The frame a revision's publication carries, to give to this process's members in order."""
    return Published(events.encode(payload["event"]), None)
