"""The chat socket after the handshake: :class:`actors.client_socket.ClientSocket` over a taken-over connection.

One task, the session's reader, reads the socket: :meth:`receive` returns
the next text or binary message and deals with everything else on the way
(answers pings, notes pongs, completes a closing handshake, refuses frames
that break RFC 6455). Writes come from three places and never interleave
inside a frame:

* the writer actor's fast path, :meth:`write_now`: one ``os.write`` of whole
  frames when nobody else is writing;
* the writer's drain task, :meth:`send`: the rest of a batch the socket took
  only part of (it *owes* the wire the end of a frame), then later batches;
* control frames from the session's own task: pongs and the close frame.
  They wait until no frame is owed and take the connection's write lock.

Closing follows RFC 6455 §7: the server sends its close frame, waits briefly
for the client's (discarding messages still in flight), and then the
connection's task closes TCP. A frame the server must refuse gets its close
code (1002, 1007, 1009), then an end-of-stream, so the client reads the close
frame before the connection goes; a client silent for the idle timeout
(no frame, no pong) is dropped without one, as it has stopped answering.

Once a close has begun (ours, or the client's being answered), the data
frames still queued for the client are dropped rather than written: nothing
may follow our close frame, and a client that closed wants nothing more.
Dropping them, rather than failing the writer's write, is what keeps the
close frame itself from being lost: a failed write ends the session, and an
ending session would abandon the close frame on its way out. The close
frame itself is written under a shield, bounded in time, for the same reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import termios

import trio

from actors.client_socket import TransportClosed
from transport.takeover import TakenConnection
from wire.frames import (
    DEFAULT_MAX_FRAGMENTS,
    Close,
    FrameReader,
    Ping,
    Pong,
    ProtocolError,
    close_frame,
    pong_frame,
)

READ_SIZE = 65536
CLOSE_REPLY_TIMEOUT = 2.0
"""How long the server waits for the client's close frame (or end of stream) after sending its own,
counted from the last time the client was seen reading.

Short, because a server shutting down waits for it too."""
CLOSE_LINGER_MAX = 10.0
"""The longest the server waits for a client that keeps reading but has not answered the close yet."""


class WebSocketTransport:
    __slots__ = (
        "_closing",
        "_fd",
        "_gone",
        "_idle",
        "_lock",
        "_owed",
        "_peer_closed",
        "_pongs",
        "_reader",
        "_socket",
        "_stream",
    )

    def __init__(
        self,
        connection: TakenConnection,
        *,
        max_message: int,
        idle_timeout: float,
        max_fragments: int = DEFAULT_MAX_FRAGMENTS,
    ) -> None:
        self._stream = connection.stream
        self._socket = connection.socket
        self._fd = -1 if connection.socket is None else connection.socket.fileno()
        self._lock = connection.send_lock
        self._reader = FrameReader(max_message, max_fragments)
        self._pongs: list[bytes] = []  # pong frames owed for the pings of the current read
        if connection.early:
            self._reader.feed(connection.early)
        self._idle = idle_timeout
        self._owed: trio.Event | None = None  # set while a frame is partly on the wire
        self._closing = False  # our close frame is out (or going): no more data frames
        self._gone = False  # the connection is dead: nothing more can be read or written
        self._peer_closed = False  # the client's close frame (or its end of stream) has arrived

    # reading: the session's task -------------------------------------------

    async def receive(self) -> str | bytes:
        reader = self._reader
        while True:
            try:
                event = reader.next_event()
            except ProtocolError as error:
                await self._refuse(error)
                raise TransportClosed(f"closed with {error.code}: {error.reason}") from None
            if event is None:
                if self._pongs:
                    pongs, self._pongs = b"".join(self._pongs), []
                    await self._send_control(pongs)
                reader.feed(await self._read())
            elif isinstance(event, (str, bytes)):
                return event
            elif isinstance(event, Ping):
                # Every ping is answered, once everything read so far is handled:
                # the pongs of one read go out in one write, so a flood of pings
                # costs a write per read rather than per ping.
                self._pongs.append(pong_frame(event.payload))
            elif isinstance(event, Close):
                self._peer_closed = True
                await self._answer_close(event)
                raise TransportClosed("client closed the connection")
            else:
                assert isinstance(event, Pong)  # a read is all the liveness check needs

    async def _read(self) -> bytes | bytearray:
        if self._gone:
            raise TransportClosed("client disconnected (a write to it failed)")
        data: bytes | bytearray = b""
        with trio.move_on_after(self._idle) as idle:
            try:
                data = await self._stream.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        if idle.cancelled_caught:
            self.abort()
            raise TransportClosed(f"nothing received for {self._idle:g} s: connection dropped")
        if not data:
            self._gone = self._peer_closed = True
            raise TransportClosed("client disconnected")
        return data

    async def _answer_close(self, event: Close) -> None:
        """The client started the closing handshake: echo its code, and let the connection end."""
        if self._closing:
            return  # it answered ours
        self._closing = True
        # Shielded: RFC 6455 5.5.1 says a close MUST be answered, even when the
        # session is asked to end (1013, shutdown) while the answer is being written.
        with trio.move_on_after(CLOSE_REPLY_TIMEOUT, shield=True):
            await self._send_control(close_frame(event.code))

    async def _refuse(self, error: ProtocolError) -> None:
        """Close with the error's code, then end our side so the client reads the close frame and goes."""
        if self._closing:
            return
        self._closing = True
        with trio.move_on_after(CLOSE_REPLY_TIMEOUT, shield=True):
            await self._send_control(close_frame(error.code, error.reason))
        if self._gone:
            return
        gone = (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError)
        with trio.move_on_after(CLOSE_REPLY_TIMEOUT), contextlib.suppress(*gone):
            send_eof = getattr(self._stream, "send_eof", None)
            if send_eof is not None:
                async with self._lock:
                    await send_eof()
            # Read out what the client still sends: closing a socket with unread
            # bytes resets it, which could lose the close frame on its way.
            while await self._stream.receive_some(READ_SIZE):
                pass

    # writing ------------------------------------------------------------------

    def write_now(self, data: bytes) -> int:
        if self._gone:
            raise TransportClosed("client disconnected")
        if self._closing:
            return len(data)  # dropped: see the module docstring
        if self._owed is not None or self._fd < 0 or self._lock.locked():
            return 0
        try:
            written = os.write(self._fd, data)
        except OSError:
            return 0  # a full socket, or a failure that send() will meet and report
        if 0 < written < len(data):
            self._owed = trio.Event()
        return written

    async def send(self, data: bytes) -> None:
        """Write ``data`` in full, shielded: a frame once started is finished."""
        if self._gone:
            raise TransportClosed("client disconnected")
        if self._closing and self._owed is None:
            return  # dropped: see the module docstring
        with trio.CancelScope(shield=True):
            async with self._lock:
                try:
                    await self._stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self._gone = True
                    raise TransportClosed("client disconnected") from exc
                finally:
                    owed, self._owed = self._owed, None
                    if owed is not None:
                        owed.set()

    async def _send_control(self, frame: bytes) -> None:
        """Write a control frame between two data frames, never inside one."""
        while not self._gone:
            if self._owed is not None:
                await self._owed.wait()
                continue
            async with self._lock:
                if self._owed is not None:
                    continue  # a fast-path write started a frame while we waited for the lock
                try:
                    await self._stream.send_all(frame)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._gone = True
                except trio.Cancelled:
                    # Part of the frame may be out, so nothing can follow it. Not
                    # shielded on purpose: a client that pings but never reads must
                    # not hold its session once that session is asked to close.
                    self.abort()
                    raise
                return

    async def close(self, code: int, reason: str) -> None:
        """Send our close frame (unless one is out already), then wait briefly for the client's."""
        await self.send_close(code, reason)
        await self.await_close_reply()

    async def send_close(self, code: int, reason: str) -> None:
        """Send our close frame once it no longer cuts into a frame; nothing is written after it."""
        if self._closing or self._gone:
            return
        self._closing = True
        await self._send_control(close_frame(code, reason))

    async def await_close_reply(self) -> None:
        """Read and discard until the client's close frame or its end of stream.

        The client answers once it has read everything sent before our close
        frame, which under load can be megabytes still in the kernel's
        buffers. So the wait is :data:`CLOSE_REPLY_TIMEOUT` from the last
        sign that the client is reading (bytes leaving our socket's send
        queue), and :data:`CLOSE_LINGER_MAX` at most. Closing earlier, with
        the client's bytes unread, would make the kernel reset the connection
        and throw away the close frame still queued in it.
        """
        with trio.move_on_after(CLOSE_LINGER_MAX):
            unsent = self._unsent()
            while not (self._gone or self._peer_closed):
                with trio.move_on_after(CLOSE_REPLY_TIMEOUT) as waited:
                    await self._read_until_close()
                if not waited.cancelled_caught:
                    return
                before, unsent = unsent, self._unsent()
                if unsent == 0 or unsent >= before:
                    return  # all of it is out (or none of it moves) and still no answer

    async def _read_until_close(self) -> None:
        while not (self._gone or self._peer_closed):
            try:
                event = self._reader.next_event()
            except ProtocolError:
                return
            if isinstance(event, Close):
                self._peer_closed = True
            elif event is None:
                try:
                    self._reader.feed(await self._read())
                except TransportClosed:
                    return

    def _unsent(self) -> int:
        """Bytes written to the socket that the client has not yet acknowledged (0 when unknown)."""
        if self._fd < 0 or self._gone:
            return 0
        try:
            return struct.unpack("i", fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0]  # type: ignore[no-any-return]
        except OSError:
            return 0

    def abort(self) -> None:
        """Drop the connection at once, failing any write that waits on it."""
        self._gone = True
        if self._socket is not None:
            self._socket.close()  # trio wakes whoever waits on it with ClosedResourceError
