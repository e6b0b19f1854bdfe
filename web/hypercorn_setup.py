"""Hypercorn settings that the contract depends on.

* Frames over ``max_frame`` bytes close the connection with 1009 (Hypercorn's
  ``websocket_max_message_size``).
* Liveness: Hypercorn pings every WebSocket each ``ping_interval``; a
  connection that sent no byte at all (no frame, no pong) for ``idle_timeout``
  is closed (``read_timeout``). Pongs never reach the ASGI app, so this is the
  one layer that can see them.
* No compression: Hypercorn offers permessage-deflate to any client that asks,
  and a small compressed frame can inflate to many megabytes before the size
  limit is checked. :func:`decline_compression` replaces the extension that
  Hypercorn's handshake offers with one that declines every offer, so the
  handshake never negotiates it and RSV1 frames are refused as protocol errors.
* Raw frames: :func:`enable_raw_frames` teaches Hypercorn's WebSocket stream
  one more ASGI event, :data:`RAW_FRAMES`, whose ``data`` is a run of
  complete text frames already built by :func:`actors.frames.ws_text_frame`.
  Hypercorn writes it to the socket as it is, in one shielded ``send_all``.
  The standard ``websocket.send`` costs a wsproto serialisation, four
  layers of calls, a lock, a cancel scope and three task switches per frame;
  a session that has ten frames queued now pays for one write, and when the
  socket has room (nearly always) that write is a single ``os.write``
  without any task switch (see :func:`_write_frames`). It is sent only while the connection is
  open (exactly when Hypercorn would send a ``websocket.send``), and it is
  safe because we never negotiate an extension that transforms frames
  (compression is declined, see above) and a server never masks.
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


RAW_FRAMES = "chat.websocket.send_frames"
"""ASGI event type: ``{"type": RAW_FRAMES, "data": <complete frames>}``."""


def enable_raw_frames() -> bool:
    """Install the :data:`RAW_FRAMES` event in Hypercorn (idempotent); True once installed."""
    stream = getattr(ws_stream, "WSStream", None)
    original = getattr(stream, "app_send", None)
    if getattr(original, "raw_frames", False):
        return True
    needed = ("ASGIWebsocketState",)
    if stream is None or original is None or not all(hasattr(ws_stream, name) for name in needed):
        raise RuntimeError(
            "this Hypercorn version's WebSocket stream is not shaped the way web.hypercorn_setup "
            "expects (WSStream.app_send, ASGIWebsocketState); check enable_raw_frames "
            "before upgrading"
        )
    connected = ws_stream.ASGIWebsocketState.CONNECTED

    async def app_send(self: Any, message: Any) -> None:
        if message is None or message["type"] != RAW_FRAMES:
            await original(self, message)
        elif not self.closed and self.state is connected and self.connection.state is ConnectionState.OPEN:
            await _write_frames(self, message["data"])

    app_send.raw_frames = True  # type: ignore[attr-defined]
    stream.app_send = app_send
    return True


class _Socket:
    """The TCP connection under one WebSocket stream, for writes that need not wait."""

    __slots__ = ("lock", "socket")

    def __init__(self, lock: trio.Lock, socket: trio.socket.SocketType) -> None:
        self.lock = lock
        self.socket = socket

    def write_now(self, data: bytes) -> int:
        """Write what the kernel takes at once; the number of bytes written (0 on any error).

        Only while nobody else is writing: Hypercorn writes under ``lock``,
        so a free lock means no ``send_all`` is part-way through a frame.
        Errors are left to the normal path, which closes the connection.
        """
        fd = self.socket.fileno()
        if self.lock.locked() or fd < 0:
            return 0
        try:
            return os.write(fd, data)
        except OSError:
            return 0


def _socket_of(stream: Any) -> _Socket | None:
    """Hypercorn's TCP connection behind a WSStream, if it is plain TCP served by hypercorn.trio."""
    protocol = getattr(stream.send, "__self__", None)  # H11Protocol.stream_send
    server = getattr(getattr(protocol, "send", None), "__self__", None)  # TCPServer.protocol_send
    tcp = getattr(server, "stream", None)
    lock = getattr(server, "send_lock", None)
    if isinstance(tcp, trio.SocketStream) and isinstance(lock, trio.Lock):
        return _Socket(lock, tcp.socket)
    return None  # TLS, HTTP/2 or another worker: always take the normal path


async def _write_frames(stream: Any, data: bytes) -> None:
    """Write complete frames: straight into the socket when it has room, else through Hypercorn.

    A chat socket is nearly always writable, and then the frames go out with
    one system call and no task switch, the way an asyncio transport writes.
    The normal path (Hypercorn's send lock and a shielded ``send_all``)
    takes over whatever the kernel did not accept; it is shielded because
    a frame that was started must be finished before anything else is sent.
    """
    sock = stream.__dict__.get("_chat_socket", _UNKNOWN)
    if sock is _UNKNOWN:
        sock = stream._chat_socket = _socket_of(stream)
    if sock is not None:
        written = sock.write_now(data)
        if written == len(data):
            return
        data = data[written:]
    with trio.CancelScope(shield=True):
        await stream.send(Data(stream_id=stream.stream_id, data=data))


_UNKNOWN = object()


def hypercorn_config(config: Config, *, port: int | None = None) -> HyperConfig:
    decline_compression()
    enable_raw_frames()
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port if port is None else port}"]
    hc.websocket_max_message_size = config.max_frame
    hc.websocket_ping_interval = config.ping_interval
    hc.read_timeout = config.idle_timeout  # type: ignore[assignment]
    hc.graceful_timeout = 2.0
    hc.errorlog = logging.getLogger("hypercorn.error")
    if config.access_log:
        hc.accesslog = logging.getLogger("hypercorn.access")
        hc.access_log_format = ACCESS_LOG_FORMAT
    else:
        hc.accesslog = None
    return hc
