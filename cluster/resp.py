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

from collections import deque
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


class ReplyError(Exception):
    """Redis answered a command with an error (``-ERR ...``, ``-NOSCRIPT ...``)."""


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
        return ReplyError(bytes(line).decode(errors="replace")), end + 2
    raise ConnectionError(f"Redis sent something that is not RESP2 ({bytes(kind)!r})")


class _Connection:
    """One stream to Redis and what has been read from it but not parsed yet."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.sending = trio.Lock()  # a RESP command must not interleave with another
        self.buffer = bytearray()
        self.reading = (
            trio.CancelScope()
        )  # a pipeline's reader task: cancelled when the connection is dropped

    @property
    def address(self) -> tuple[str, int]:
        """This end's address, as Redis's ``CLIENT LIST`` shows it (TCP only)."""
        host, port = self.stream.socket.getsockname()[:2]  # type: ignore[attr-defined]
        return str(host), int(port)

    async def send(self, data: bytes) -> None:
        async with self.sending:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionError("the connection to Redis is closed") from exc

    async def reply(self) -> Any:
        """The next value Redis sends."""
        while True:
            value, pos = parse(self.buffer, 0)
            if value is not _INCOMPLETE:
                del self.buffer[:pos]
                return value
            await self.fill()

    async def fill(self) -> None:
        try:
            data = await self.stream.receive_some(READ_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionError("the connection to Redis broke") from exc
        if not data:
            raise ConnectionError("Redis closed the connection")
        self.buffer += data


class Subscription:
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self._pinged = False  # a PING is out and nothing has arrived since

    @property
    def address(self) -> tuple[str, int]:
        return self._connection.address

    async def subscribe(self, *channels: str) -> None:
        if channels:
            await self._connection.send(command("SUBSCRIBE", *channels))

    async def unsubscribe(self, *channels: str) -> None:
        if channels:
            await self._connection.send(command("UNSUBSCRIBE", *channels))

    async def receive(self) -> list[tuple[bytes, bytes]]:
        """The published messages that have arrived, as (channel, data), waiting for at least one.

        Everything one receive brought is returned together, in the order
        Redis sent it; confirmations of (un)subscribing are skipped.
        """
        connection, got = self._connection, []
        buffer = connection.buffer
        while True:
            pos = 0
            while True:
                value, after = parse(buffer, pos)
                if value is _INCOMPLETE:
                    break
                pos = after
                if isinstance(value, ReplyError):
                    raise ConnectionError(f"Redis refused the subscription: {value}")
                if isinstance(value, list) and len(value) == 3 and value[0] == b"message":
                    got.append((value[1], value[2]))
            del buffer[:pos]
            if got:
                return got
            with trio.move_on_after(QUIET):
                await connection.fill()
                self._pinged = False
                continue
            if self._pinged:
                raise ConnectionError(f"Redis did not answer a PING on the subscription within {QUIET:g} s")
            await connection.send(command("PING"))
            self._pinged = True


async def _connect(url: str, *, select: bool) -> _Connection:
    """A stream to the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``), logged in.

    ``select``: also switch to the URL's database (``/15``); channels are the
    same in every database, keys are not.
    """
    parts = urlsplit(url)
    setup = []
    if parts.password is not None:
        credentials = [unquote(parts.password)]
        if parts.username:
            credentials.insert(0, unquote(parts.username))
        setup.append(command("AUTH", *credentials))
    database = parts.path.lstrip("/")
    if select and database not in ("", "0"):
        setup.append(command("SELECT", database))
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
            connection = _Connection(stream)
            try:
                for step in setup:
                    await connection.send(step)
                    answer = await connection.reply()
                    if isinstance(answer, ReplyError):
                        raise ConnectionError(f"Redis refused the connection's set-up: {answer}")
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    except trio.TooSlowError as exc:
        raise ConnectionError(f"Redis did not accept a connection within {CONNECT_TIMEOUT:g} s") from exc
    return connection


@asynccontextmanager
async def open_subscription(url: str) -> AsyncIterator[Subscription]:
    """A connection to the Redis at ``url`` for subscribing, closed on the way out."""
    connection = await _connect(url, select=False)
    async with connection.stream:
        yield Subscription(connection)


class _Pending:
    """A command sent on a pipeline connection, waiting for its reply."""

    __slots__ = ("answered", "value")

    def __init__(self) -> None:
        self.answered = trio.Event()
        self.value: Any = None


class Pipeline:
    """Commands on one connection, any number in flight at once, each reply matched to its command.

    Redis answers the commands of one connection in the order it received
    them, so the replies are handed out in the order the commands were sent
    (under the connection's send lock) by one reader task, which lives in
    ``nursery``. A caller waits only for its own reply. A command left
    unanswered for ``timeout`` seconds, or a connection that breaks, fails
    every command waiting on that connection with :class:`ConnectionError`
    (or :class:`TimeoutError`) and drops the connection; the next call opens
    a new one. Error replies are raised as :class:`ReplyError`.
    """

    def __init__(self, url: str, nursery: trio.Nursery, timeout: float) -> None:
        self._url = url
        self._nursery = nursery
        self._timeout = timeout
        self._connection: _Connection | None = None
        self._waiting: dict[_Connection, deque[_Pending]] = {}
        self._connecting = trio.Lock()

    async def call(self, *parts: str | bytes) -> Any:
        timeout, connection = self._timeout, await self._connected()
        pending = _Pending()
        data = command(*parts)
        async with connection.sending:
            if connection not in self._waiting:
                raise ConnectionError("the connection to Redis broke")
            self._waiting[connection].append(pending)
            try:
                await connection.stream.send_all(data)
            except BaseException as exc:  # a command cut short leaves the stream unusable
                self._drop(connection, f"a command could not be sent ({type(exc).__name__})")
                if isinstance(exc, trio.BrokenResourceError | trio.ClosedResourceError):
                    raise ConnectionError("the connection to Redis broke") from exc
                raise
        with trio.move_on_after(timeout):
            await pending.answered.wait()
        if not pending.answered.is_set():
            self._drop(connection, f"no answer within {timeout:g} s")
            raise TimeoutError(f"Redis did not answer within {timeout:g} s")
        if isinstance(pending.value, BaseException):
            raise pending.value
        return pending.value

    async def _connected(self) -> _Connection:
        async with self._connecting:
            if self._connection is None:
                connection = await _connect(self._url, select=True)
                try:
                    self._nursery.start_soon(self._read, connection)
                except RuntimeError as exc:  # the link is closing: its nursery takes no new task
                    await trio.aclose_forcefully(connection.stream)
                    raise ConnectionError("the connection to Redis is closing") from exc
                self._waiting[connection] = deque()
                self._connection = connection
            return self._connection

    async def _read(self, connection: _Connection) -> None:
        waiting = self._waiting.get(connection)
        try:
            with connection.reading:
                while waiting is not None:
                    value = await connection.reply()
                    if not waiting:
                        raise ConnectionError("Redis sent a reply nobody asked for")
                    pending = waiting.popleft()
                    pending.value = value
                    pending.answered.set()
        except (ConnectionError, OSError, ValueError) as exc:
            self._drop(connection, str(exc) or type(exc).__name__)
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(connection.stream)

    def _drop(self, connection: _Connection, reason: str) -> None:
        """Fail whatever waits on ``connection`` and stop using it; its reader, cancelled, closes it."""
        if self._connection is connection:
            self._connection = None
        for pending in self._waiting.pop(connection, ()):
            pending.value = ConnectionError(f"lost the connection to Redis: {reason}")
            pending.answered.set()
        connection.reading.cancel()
