"""The process's connection to Redis: commands, scripts, and what a failure means.

Every Redis call of the cluster mode goes through :class:`RedisLink`, which
turns any failure to reach Redis into :class:`ClusterUnavailable`: sending
is then refused with the documented, retryable ``unavailable`` error
instead of waiting (docs/cluster.md, "When Redis restarts").
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import coredis
import coredis.exceptions
import trio
from coredis.retry import ConstantRetryPolicy

from cluster import lua
from cluster.resp import Pipeline, ReplyError
from storage.interface import LogUnavailable

TIMEOUT = 2.0
"""Seconds a Redis command may take before the cluster counts Redis as unreachable."""

ID_MARGIN = 1_000_000
"""How far above the highest stored id the counter restarts after Redis lost it: more ids than can be
handed out and not yet stored at once, so none is used twice."""


UNREACHABLE = (
    coredis.exceptions.ConnectionError,
    TimeoutError,
    OSError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
)
"""What failing to reach Redis looks like through coredis (which runs on anyio)."""


class ClusterUnavailable(LogUnavailable):
    """Redis cannot be reached (or lost its state and is being set up again): retry shortly."""


class CounterLost(ClusterUnavailable):
    """Redis answers but has no id counter (it restarted empty): set it up again, then retry."""


DEFAULT_NAMESPACE = "chat"
"""The first part of every key and channel (``cluster.namespace``): several clusters can share one Redis."""


class RedisLink:
    """One Redis client for the process, its scripts, and the process's id in the cluster (``node``)."""

    def __init__(
        self,
        client: coredis.Redis[bytes],
        node: str,
        namespace: str = DEFAULT_NAMESPACE,
        url: str = "",
        *,
        pipeline: Pipeline,
    ) -> None:
        self.client = client
        self._pipeline = pipeline
        """The hot path (numbering, announcing commits): our own pipelined connection (:mod:`cluster.resp`)."""
        self.url = url
        """Where Redis is: the subscriber opens a connection of its own there."""
        self.node = node
        self.ns = namespace
        self.committed = f"{namespace}:committed"
        """Where a process announces the ids it stored (or failed to): ``{"ok": [...], "failed": [...]}``."""
        self.control = f"{namespace}:control"
        """Cluster-wide orders: close a user's sessions, forget a cached token state."""
        self._delivered = client.register_script(lua.DELIVERED)
        self._init_ids = client.register_script(lua.INIT_IDS)
        self._join = client.register_script(lua.JOIN)
        self._leave = client.register_script(lua.LEAVE)
        self._online = client.register_script(lua.ONLINE)
        self._settle_offline = client.register_script(lua.SETTLE_OFFLINE)
        self._sweep_offline = client.register_script(lua.SWEEP_OFFLINE)
        self._pending_offline = f"{namespace}:online:pending"
        """Users whose last session ended with a grace, by deadline: their going is said then."""
        self._reap = client.register_script(lua.REAP)

    def room_channel(self, room_id: str) -> str:
        return f"{self.ns}:room:{room_id}"

    def user_channel(self, user_id: str) -> str:
        return f"{self.ns}:user:{user_id}"

    async def call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """Run one Redis command; any failure to reach Redis is :class:`ClusterUnavailable`."""
        try:
            return await command()
        except UNREACHABLE as exc:
            raise ClusterUnavailable(f"Redis cannot be reached: {type(exc).__name__}") from exc

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await self.call(lambda: script(keys=keys, args=args))

    async def _run_fast(self, script: str, keys: list[str], args: list[str]) -> Any:
        """Run ``script`` on the pipelined connection: EVALSHA, and EVAL once if Redis has not seen it yet."""
        sha = _sha(script)
        try:
            return await self.call(lambda: self._pipeline.call("EVALSHA", sha, str(len(keys)), *keys, *args))
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call(lambda: self._pipeline.call("EVAL", script, str(len(keys)), *keys, *args))

    # numbering ------------------------------------------------------------------

    async def append(self, channels: list[str], payload: dict[str, Any]) -> int:
        """Number a message and publish it on ``channels``, in one step; its id.

        Raises :class:`ClusterUnavailable` when Redis cannot be reached, or has
        lost its counter (the caller sets it up again with :meth:`init_ids`).
        """
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return _numbered(await self._run_fast(lua.APPEND, [f"{self.ns}:ids", *channels], [text]))

    async def number_posts(self, channel: str, frames: list[str]) -> int:
        """Number a room's posts with consecutive ids and publish them on ``channel`` as one burst.

        ``frames`` are the posts' frames without their ids (:func:`cluster.posts.frame_text`).
        The id of the first; the others follow in ``frames``' order. Raises
        as :meth:`append` does.
        """
        keys = [f"{self.ns}:ids", channel]
        return _numbered(await self._run_fast(lua.NUMBER_POSTS, keys, [self.node, *frames]))

    async def init_ids(self, floor: int) -> bool:
        """Set the id counter to ``floor`` if Redis has none; True when it did."""
        return bool(await self._run(self._init_ids, [f"{self.ns}:ids"], [floor]))

    async def last_id(self) -> int:
        """The highest id numbered so far, cluster-wide (0 if none)."""
        value = await self.call(lambda: self.client.get(f"{self.ns}:ids"))
        return int(value) if value is not None else 0

    async def user_online(self, user_id: str) -> bool:
        return bool(await self._run(self._delivered, [f"{self.ns}:online:sessions"], [user_id]))

    # presence -------------------------------------------------------------------

    async def join(
        self, room_id: str, user: dict[str, str], notice: dict[str, Any]
    ) -> tuple[bool, list[dict[str, str]]]:
        """Count a session into the room; (the user was not there before, the room's users)."""
        keys = [
            f"{self.ns}:room:{room_id}:sessions",
            f"{self.ns}:room:{room_id}:users",
            f"{self.ns}:node:{self.node}:rooms",
            self.room_channel(room_id),
        ]
        args = [user["user_id"], _json(user), f"{room_id}\t{user['user_id']}", _json(notice)]
        count, users = await self._run(self._join, keys, args)
        return int(count) == 1, [json.loads(u) for u in users]

    async def leave(self, room_id: str, user: dict[str, str], notice: dict[str, Any]) -> bool:
        """Count a session out of the room; True when it was the user's last anywhere (the notice went out)."""
        keys = [
            f"{self.ns}:room:{room_id}:sessions",
            f"{self.ns}:room:{room_id}:users",
            f"{self.ns}:node:{self.node}:rooms",
            self.room_channel(room_id),
        ]
        args = [user["user_id"], f"{room_id}\t{user['user_id']}", _json(notice)]
        return int(await self._run(self._leave, keys, args)) == 0

    async def room_users(self, room_id: str) -> list[dict[str, str]]:
        users = await self.call(lambda: self.client.hvals(f"{self.ns}:room:{room_id}:users"))
        return [json.loads(u) for u in users]

    async def online(self, user: dict[str, str], delta: int, *, grace: float = 0) -> int:
        """Count a session of the user in (+1) or out (-1) of the site-wide online list; their sessions now.

        The first session anywhere and the last publish ``presence`` on the
        control channel; with a ``grace`` (seconds) the last one is pending
        instead, said by :meth:`settle_offline` or, should this process stop
        first, by any process's :meth:`sweep_offline`.
        """
        keys = [
            f"{self.ns}:online:sessions",
            f"{self.ns}:online:users",
            f"{self.ns}:node:{self.node}:online",
            self.control,
            self._pending_offline,
        ]
        args = [user["user_id"], _json(user), delta, int(grace * 1000)]
        return int(await self._run(self._online, keys, args))

    async def settle_offline(self, user: dict[str, str]) -> None:
        """A grace ran out: publish that the user went offline, unless they have a session again."""
        keys = [f"{self.ns}:online:sessions", self.control, self._pending_offline]
        await self._run(self._settle_offline, keys, [user["user_id"], _json(user)])

    async def sweep_offline(self, margin: float) -> int:
        """Say the goings whose grace is overdue by ``margin`` seconds (their process stopped); how many."""
        keys = [f"{self.ns}:online:sessions", self.control, self._pending_offline]
        return int(await self._run(self._sweep_offline, keys, [int(margin * 1000)]))

    async def online_of(self, user_ids: list[str]) -> list[dict[str, str]]:
        """Those of ``user_ids`` online now (one HMGET)."""
        if not user_ids:
            return []
        found = await self.call(lambda: self.client.hmget(f"{self.ns}:online:users", user_ids))
        return [json.loads(u) for u in found if u is not None]

    async def online_users(self) -> list[dict[str, str]]:
        users = await self.call(lambda: self.client.hvals(f"{self.ns}:online:users"))
        return [json.loads(u) for u in users]

    # processes ------------------------------------------------------------------

    async def beat(self, lifetime: float) -> None:
        """Say this process is alive for ``lifetime`` seconds more."""

        async def both() -> None:
            await self.client.set(f"{self.ns}:node:{self.node}:alive", b"1", px=int(lifetime * 1000))
            await self.client.sadd(f"{self.ns}:nodes", [self.node])

        await self.call(both)

    async def alive_nodes(self, nodes: set[str]) -> set[str]:
        """Which of ``nodes`` still say they are alive."""
        alive = set()
        for node in nodes:
            if await self._exists(f"{self.ns}:node:{node}:alive"):
                alive.add(node)
        return alive

    async def _exists(self, key: str) -> bool:
        return bool(await self.call(lambda: self.client.exists([key])))

    async def nodes(self) -> set[str]:
        members = await self.call(lambda: self.client.smembers(f"{self.ns}:nodes"))
        return {m.decode() for m in members}

    async def reap(self, node: str, *, even_alive: bool = False) -> int:
        """Undo what a process contributed (exactly once); the leave notices sent, -1 if it is alive.

        ``even_alive``: this process undoing its own contributions (it closed its
        sessions when it lost Redis, and their departures could not be counted).
        """
        keys = [
            f"{self.ns}:nodes",
            f"{self.ns}:node:{node}:rooms",
            f"{self.ns}:node:{node}:online",
            f"{self.ns}:node:{node}:alive",
        ]
        return int(await self._run(self._reap, keys, [node, "1" if even_alive else "0", self.ns]))

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self.call(lambda: self._pipeline.call("PUBLISH", channel, _json(payload)))


def _numbered(result: Any) -> int:
    """A numbering script's answer: the (first) id, or -1 when Redis had no counter."""
    if int(result) < 0:
        raise CounterLost("Redis has lost the id counter")
    return int(result)


@functools.cache
def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def new_node_id() -> str:
    return f"n-{secrets.token_hex(4)}"


def open_client(url: str) -> coredis.Redis[bytes]:
    """A coredis client for ``url`` with the cluster's timeouts (enter it with ``async with``).

    A command is tried again only when its connection was found broken (a
    pooled connection from before a restart), never after a timeout: with
    coredis's default, each command met a silent Redis three times, and a post
    was refused only after 6 s (12 s with the id counter's set-up that
    followed), its room holding everything else meanwhile.
    """
    return coredis.Redis.from_url(
        url,
        decode_responses=False,
        stream_timeout=TIMEOUT,
        connect_timeout=TIMEOUT,
        retry_policy=ConstantRetryPolicy((coredis.exceptions.ConnectionError,), retries=2, delay=0.01),
    )


@asynccontextmanager
async def open_link(url: str, namespace: str = DEFAULT_NAMESPACE) -> AsyncIterator[RedisLink]:
    """Connect to Redis at ``url``; the link, closed on the way out."""
    client = open_client(url)
    async with client, trio.open_nursery() as nursery:
        try:
            yield RedisLink(client, new_node_id(), namespace, url, pipeline=Pipeline(url, nursery, TIMEOUT))
        finally:
            nursery.cancel_scope.cancel()  # the pipeline's reader: it would wait for replies forever
