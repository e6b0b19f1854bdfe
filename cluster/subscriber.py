"""The subscriber actor: this process's one Redis subscription, and where what arrives goes.

Contract:

* **Actor id** ``subscriber``; one per process in cluster mode, started by
  the composition root.
* **In**: everything published on the channels this process follows: the
  rooms it has members in (:meth:`Subscriber.follow`, by :mod:`cluster.room`),
  the users it has sessions of (by :mod:`cluster.registry`), ``committed``
  and ``control``. One connection carries them all (:mod:`cluster.resp`), and Redis delivers on
  one connection in the order it ran the publications: a room's messages
  arrive in id order, and a commit announcement after its message.
* **Out**: a room's messages and notices to the room actor
  (:class:`actors.messages.Published`, with a :class:`cluster.commits.RemoteCommit`
  from the board); a user's private messages to the registry
  (:class:`actors.messages.PublishedPrivate`); announcements to the board;
  control orders to ``on_control``. It waits on a full mailbox: backpressure
  reaches Redis.
* **Failure policy**: losing the connection means losing whatever was
  published meanwhile, which no process can replay. The subscriber logs it
  once, calls ``on_lost`` (the composition root closes every session with
  1012, so clients reconnect and recover from the history), and connects
  again every second until Redis answers, following the same channels.
  Once subscribed again it awaits ``on_back`` (the composition root undoes
  this process's stale counts and gives Redis an id counter if it lost it)
  and only then sets :attr:`Subscriber.connected`: nothing is counted in
  before the stale counts are gone, and no session is kept while it is unset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from actors.logs import supervision_event
from cluster.commits import CommitBoard
from cluster.link import UNREACHABLE, ClusterUnavailable, RedisLink
from cluster.resp import Subscription, open_subscription
from wire import events
from wire.shapes import StoredMessage, User

log = logging.getLogger(__name__)

Route = Callable[[bytes], Awaitable[None]]
"""What a followed channel's publications are handed to, as published; :class:`ValueError` if unreadable."""

RECONNECT_EVERY = 1.0

_LOST = UNREACHABLE


class Subscriber:
    def __init__(
        self,
        link: RedisLink,
        board: CommitBoard,
        *,
        on_control: Callable[[dict[str, Any]], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
        on_back: Callable[[], Awaitable[None]],
    ) -> None:
        self._link = link
        self._board = board
        self._on_control = on_control
        self._on_lost = on_lost
        self._on_back = on_back
        self._routes: dict[str, Route] = {}
        self._pubsub: Subscription | None = None
        self.connected = trio.Event()
        self.generation = 0
        """How many times the subscription was made: a count made in an earlier one was undone by ``on_back``."""

    async def follow(self, channel: str, route: Route) -> None:
        """Receive ``channel`` from now on and hand each publication to ``route``, undecoded.

        The route decodes: a room's posts come as frames ready to send
        (:mod:`cluster.posts`), everything else as JSON (:func:`json_items`).
        """
        self._routes[channel] = route
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except _LOST:
                pass  # followed again when the subscription comes back

    async def unfollow(self, channel: str) -> None:
        if self._routes.pop(channel, None) is not None and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(channel)
            except Exception:
                pass

    async def run(self, *, task_status: trio.TaskStatus[Subscriber] = trio.TASK_STATUS_IGNORED) -> None:
        supervision_event("subscriber", "started", parent="root", reason=f"node {self._link.node}")
        started = False
        try:
            while True:
                try:
                    # A connection of its own, spoken directly (cluster/resp.py says why).
                    async with open_subscription(self._link.url) as subscription:
                        await subscription.subscribe(self._link.committed, self._link.control, *self._routes)
                        if started:
                            await self._back()
                        self._pubsub = subscription
                        self.generation += 1
                        self.connected.set()
                        if not started:
                            started = True
                            task_status.started(self)
                        while True:
                            for channel, data in await subscription.receive():
                                await self._dispatch(channel.decode(), data)
                except _LOST as exc:
                    self._pubsub = None
                    if self.connected.is_set():
                        self.connected = trio.Event()
                        supervision_event(
                            "subscriber",
                            "crashed",
                            parent="root",
                            reason=f"lost Redis ({type(exc).__name__}): closing sessions with 1012; reconnecting",
                        )
                        await self._on_lost()
                    if not started:
                        raise
                await trio.sleep(RECONNECT_EVERY)
        finally:
            self._pubsub = None
            supervision_event("subscriber", "stopped", parent="root")

    async def _back(self) -> None:
        """Subscribed again after a loss: ``on_back`` first; Redis failing meanwhile is one more loss."""
        try:
            await self._on_back()
        except ClusterUnavailable as exc:
            raise ConnectionError(str(exc)) from exc

    async def _dispatch(self, channel: str, data: bytes) -> None:
        route = self._routes.get(channel)
        if route is not None:
            try:
                await route(data)
            except ValueError:
                log.warning("dropped an unreadable publication on %s", channel)
            return
        try:
            payload = json.loads(data)
        except ValueError:
            log.warning("dropped an unreadable publication on %s", channel)
            return
        if channel == self._link.committed:
            self._board.announce(payload.get("ok", []), payload.get("failed", []))
        elif channel == self._link.control:
            await self._on_control(payload)


def json_items(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a publication: one, or an array of them. Raises :class:`ValueError` on others."""
    payload = json.loads(data)
    items = payload if isinstance(payload, list) else [payload]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("not a JSON object")
    return items


def message_of(payload: dict[str, Any]) -> StoredMessage:
    """The message a numbering script published (:meth:`cluster.log.ClusterLog.append`)."""
    sender = payload["sender"]
    return StoredMessage(
        id=int(payload["id"]),
        timestamp=int(payload["ts"]),
        kind="group" if payload["k"] == "group" else "private",
        sender=User(sender["user_id"], sender["username"]),
        content=payload["content"],
        room_id=payload.get("room_id"),
        target_id=payload.get("target_id"),
    )


def notice_of(payload: dict[str, Any]) -> events.OutFrame:
    """The frame of a join or leave notice a presence script published."""
    user = payload["user"]
    return events.notice(
        payload["event"], payload["room_id"], User(user["user_id"], user["username"]), int(payload["ts"])
    )
