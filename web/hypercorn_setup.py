"""Hypercorn settings that the contract depends on.

* Frames over ``max_frame`` bytes close the connection with 1009 (Hypercorn's
  ``websocket_max_message_size``).
* Liveness: a connection that sent no byte at all (no frame, no pong) for
  ``idle_timeout`` is closed by Hypercorn (``read_timeout``): pongs never
  reach the ASGI app, so this is the one layer that can see them. The pings
  themselves come from our heartbeat actor (:mod:`actors.heartbeat`), not
  from Hypercorn's ping task, which would cost every connection a task of
  its own.
* No compression: Hypercorn offers permessage-deflate to any client that asks,
  and a small compressed frame can inflate to many megabytes before the size
  limit is checked. :func:`decline_compression` replaces the extension that
  Hypercorn's handshake offers with one that declines every offer, so the
  handshake never negotiates it and RSV1 frames are refused as protocol errors.
* Raw socket: :func:`enable_raw_socket` teaches Hypercorn's WebSocket stream
  one more ASGI event, :data:`RAW_SOCKET`, which hands the app a
  :class:`RawSocket` for the accepted connection. Through it the server's
  writer puts complete text frames (built once per broadcast by
  :func:`actors.frames.ws_text_frame`) on the wire itself: with one
  ``os.write`` and no task switch when the socket has room (nearly always),
  and through Hypercorn's own locked, shielded ``send_all`` otherwise. The
  standard ``websocket.send`` costs a wsproto serialisation, four layers of
  calls, a lock, a cancel scope and three task switches per frame. This is
  safe because we never negotiate an extension that transforms frames
  (compression is declined, see above) and a server never masks; frames are
  written only while the WebSocket is open, exactly when Hypercorn would
  send a ``websocket.send``.
* Access log off by default; when on, its format holds the path without the
  query string, because ``?token=`` carries a credential.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.protocol import ws_stream
from hypercorn.protocol.events import Data
from wsproto.connection import ConnectionState
from wsproto.extensions import PerMessageDeflate

from web.config import Config

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that accepts no offer and so stays disabled."""

    def accept(self, offer: str) -> None:
        return None


def decline_compression() -> None:
    if not hasattr(ws_stream, "PerMessageDeflate"):
        raise RuntimeError(
            "this Hypercorn version no longer offers permessage-deflate the way web.hypercorn_setup "
            "expects; check how it negotiates compression before upgrading"
        )
    ws_stream.PerMessageDeflate = _DeclinedDeflate


RAW_SOCKET = "chat.websocket.raw_socket"
"""ASGI event type: ``{"type": RAW_SOCKET, "attach": callback}``; the server calls
``callback(RawSocket)`` before the ``send`` returns."""


class ConnectionGone(Exception):
    """The WebSocket is no longer open: nothing more may be written to it."""


def enable_raw_socket() -> None:
    """Install the :data:`RAW_SOCKET` event in Hypercorn (idempotent)."""
    stream = getattr(ws_stream, "WSStream", None)
    original = getattr(stream, "app_send", None)
    if getattr(original, "raw_socket", False):
        return
    needed = ("ASGIWebsocketState",)
    if stream is None or original is None or not all(hasattr(ws_stream, name) for name in needed):
        raise RuntimeError(
            "this Hypercorn version's WebSocket stream is not shaped the way web.hypercorn_setup "
            "expects (WSStream.app_send, ASGIWebsocketState); check enable_raw_socket "
            "before upgrading"
        )

    async def app_send(self: Any, message: Any) -> None:
        if message is not None and message["type"] == RAW_SOCKET:
            message["attach"](RawSocket(self))
        else:
            await original(self, message)

    app_send.raw_socket = True  # type: ignore[attr-defined]
    stream.app_send = app_send


_CONNECTED = ws_stream.ASGIWebsocketState.CONNECTED


class RawSocket:
    """Complete frames onto the connection under one accepted WebSocket.

    Hypercorn writes under its TCP server's ``send_lock``, so a free lock
    means no ``send_all`` is part-way through a frame and :meth:`write_now`
    may go straight to the file descriptor. Whatever the kernel does not take
    must then go through :meth:`send` before anything else is written.
    """

    __slots__ = ("_lock", "_socket", "_stream")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._lock: trio.Lock | None
        self._socket: trio.socket.SocketType | None
        self._lock, self._socket = _tcp_of(stream)

    @property
    def is_open(self) -> bool:
        stream = self._stream
        return (
            not stream.closed
            and stream.state is _CONNECTED
            and stream.connection.state is ConnectionState.OPEN
        )

    def write_now(self, data: bytes) -> int:
        """Write what the kernel takes at once, without waiting: the number of bytes written.

        0 when the write must wait (the lock is held, the socket is full, or
        there is no direct path: TLS, HTTP/2). Errors are left to :meth:`send`,
        which closes the connection the way Hypercorn does.
        """
        if not self.is_open:
            raise ConnectionGone()
        lock, sock = self._lock, self._socket
        if lock is None or sock is None or lock.locked():
            return 0
        fd = sock.fileno()
        if fd < 0:
            return 0
        try:
            return os.write(fd, data)
        except OSError:
            return 0

    async def send(self, data: bytes) -> None:
        """Write ``data`` in full through Hypercorn, shielded: a frame once started is finished."""
        if not self.is_open:
            raise ConnectionGone()
        stream = self._stream
        with trio.CancelScope(shield=True):
            await stream.send(Data(stream_id=stream.stream_id, data=data))

    def abort(self) -> None:
        """Close the TCP connection at once, failing any write that waits on it.

        For a client that has not taken a byte for so long that even the
        close frame cannot reach it; Hypercorn then finishes the connection
        as if the client had dropped it. (Behind TLS there is no socket of
        ours to close; the idle timeout ends such a connection.)
        """
        if self._socket is not None:
            self._socket.close()  # trio wakes whoever waits on it with ClosedResourceError


def _tcp_of(stream: Any) -> tuple[trio.Lock, trio.socket.SocketType] | tuple[None, None]:
    """Hypercorn's send lock and socket behind a WSStream, if it is plain TCP served by hypercorn.trio."""
    protocol = getattr(stream.send, "__self__", None)  # H11Protocol.stream_send
    server = getattr(getattr(protocol, "send", None), "__self__", None)  # TCPServer.protocol_send
    tcp = getattr(server, "stream", None)
    lock = getattr(server, "send_lock", None)
    if isinstance(tcp, trio.SocketStream) and isinstance(lock, trio.Lock):
        return lock, tcp.socket
    return None, None  # TLS, HTTP/2 or another worker: always take the locked path


def hypercorn_config(config: Config, *, port: int | None = None) -> HyperConfig:
    decline_compression()
    enable_raw_socket()
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port if port is None else port}"]
    hc.websocket_max_message_size = config.max_frame
    hc.websocket_ping_interval = None  # actors.heartbeat pings every session
    hc.read_timeout = config.idle_timeout  # type: ignore[assignment]
    hc.graceful_timeout = 2.0
    hc.errorlog = logging.getLogger("hypercorn.error")
    if config.access_log:
        hc.accesslog = logging.getLogger("hypercorn.access")
        hc.access_log_format = ACCESS_LOG_FORMAT
    else:
        hc.accesslog = None
    return hc
