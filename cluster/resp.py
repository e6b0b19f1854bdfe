"""The subscription connection, spoken directly: RESP2 over one Trio stream.

Why not coredis here, when every other Redis call goes through it: a
subscription is one long-lived connection that only ever receives pushes,
and coredis hands each one through its anyio reader task, a memory stream
and a cancel scope per read. Measured on this project's machine (a process
receiving 20,000 publications one at a time, four runs), that cost 270-330
µs of CPU per message against 110-120 µs for reading the same stream here; every
process pays it for every message of every room it has members in, which
made it the largest per-message cost of the cluster mode (BENCHMARKS.md,
"Cluster mode"). What is needed is small and fixed: connect (TCP, TLS or a
Unix socket, with the URL's credentials), SUBSCRIBE and UNSUBSCRIBE, and
read arrays of bulk strings.

Contract: :func:`open_subscription` connects and authenticates within
:data:`cluster.link.TIMEOUT`; :meth:`Subscription.receive` returns the
``(channel, data)`` of every ``message`` push that has arrived, in the
order Redis sent them, all that one read brought at once.
Losing the connection (closed, reset, refused, silent for
2 x :data:`QUIET` even to a PING, or an answer that is not RESP) raises
:class:`ConnectionError`, which the subscriber actor treats as losing Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import trio

CONNECT_TIMEOUT = 2.0
"""Seconds to connect and authenticate (the same as a command's, :data:`cluster.link.TIMEOUT`)."""

QUIET = 5.0
"""Seconds of silence on the subscription after which it sends Redis a PING; as long again without
an answer and the connection counts as lost. Without it a Redis host that vanished without closing
the connection (a partition, a machine gone) would leave the process deaf and its sessions kept."""

READ_SIZE = 256 * 1024
"""Bytes asked for per receive: a burst of a room's posts is one publication of up to 64 messages."""

_INCOMPLETE = object()


def command(*parts: str | bytes) -> bytes:
    """One command as RESP2: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespError(ConnectionError):
    """Redis answered with an error (``-ERR ...``) where the subscription needed a yes."""


def parse(buffer: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 value at ``pos``, and where the next begins; ``(_INCOMPLETE, pos)`` until it is all there."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return _INCOMPLETE, pos
    kind, line = buffer[pos : pos + 1], buffer[pos + 1 : end]
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, end + 2
        start = end + 2
        if len(buffer) < start + length + 2:
            return _INCOMPLETE, pos
        return bytes(buffer[start : start + length]), start + length + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, end + 2
        items, at = [], end + 2
        for _ in range(count):
            item, at = parse(buffer, at)
            if item is _INCOMPLETE:
                return _INCOMPLETE, pos
            items.append(item)
        return items, at
    if kind == b":":
        return int(line), end + 2
    if kind == b"+":
        return bytes(line), end + 2
    if kind == b"-":
        return RespError(bytes(line).decode(errors="replace")), end + 2
    raise ConnectionError(f"Redis sent something that is not RESP2 ({bytes(kind)!r})")


class Subscription:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._sending = trio.Lock()  # rooms follow and unfollow from their own tasks
        self._buffer = bytearray()
        self._pinged = False  # a PING is out and nothing has arrived since

    @property
    def address(self) -> tuple[str, int]:
        """This end's address, as Redis's ``CLIENT LIST`` shows it (TCP only)."""
        host, port = self._stream.socket.getsockname()[:2]  # type: ignore[attr-defined]
        return str(host), int(port)

    async def subscribe(self, *channels: str) -> None:
        if channels:
            await self._send(command("SUBSCRIBE", *channels))

    async def unsubscribe(self, *channels: str) -> None:
        if channels:
            await self._send(command("UNSUBSCRIBE", *channels))

    async def _send(self, data: bytes) -> None:
        async with self._sending:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionError("the subscription's connection is closed") from exc

    async def reply(self) -> Any:
        """The next value Redis sends (used while setting up, before any subscription)."""
        while True:
            value, pos = parse(self._buffer, 0)
            if value is not _INCOMPLETE:
                del self._buffer[:pos]
                return value
            await self._fill()

    async def receive(self) -> list[tuple[bytes, bytes]]:
        """The published messages that have arrived, as (channel, data), waiting for at least one.

        Everything one receive brought is returned together, in the order
        Redis sent it; confirmations of (un)subscribing are skipped.
        """
        buffer, got = self._buffer, []
        while True:
            pos = 0
            while True:
                value, after = parse(buffer, pos)
                if value is _INCOMPLETE:
                    break
                pos = after
                if isinstance(value, RespError):
                    raise value
                if isinstance(value, list) and len(value) == 3 and value[0] == b"message":
                    got.append((value[1], value[2]))
            del buffer[:pos]
            if got:
                return got
            with trio.move_on_after(QUIET):
                await self._fill()
                self._pinged = False
                continue
            if self._pinged:
                raise ConnectionError(f"Redis did not answer a PING on the subscription within {QUIET:g} s")
            await self._send(command("PING"))
            self._pinged = True

    async def _fill(self) -> None:
        try:
            data = await self._stream.receive_some(READ_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionError("the subscription's connection broke") from exc
        if not data:
            raise ConnectionError("Redis closed the subscription's connection")
        self._buffer += data


@asynccontextmanager
async def open_subscription(url: str) -> AsyncIterator[Subscription]:
    """Connect to the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``) for subscribing."""
    parts = urlsplit(url)
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            if parts.scheme == "unix":
                stream: trio.abc.Stream = await trio.open_unix_socket(parts.path)
            elif parts.scheme == "rediss":
                stream = await trio.open_ssl_over_tcp_stream(
                    parts.hostname or "127.0.0.1", parts.port or 6379
                )
            else:
                stream = await trio.open_tcp_stream(parts.hostname or "127.0.0.1", parts.port or 6379)
    except trio.TooSlowError as exc:
        raise ConnectionError(f"Redis did not accept a connection within {CONNECT_TIMEOUT:g} s") from exc
    async with stream:
        subscription = Subscription(stream)
        if parts.password is not None:
            credentials = [unquote(parts.password)]
            if parts.username:
                credentials.insert(0, unquote(parts.username))
            await subscription._send(command("AUTH", *credentials))
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    answer = await subscription.reply()
            except trio.TooSlowError as exc:
                raise ConnectionError("Redis did not answer AUTH in time") from exc
            if isinstance(answer, RespError):
                raise answer
        yield subscription
