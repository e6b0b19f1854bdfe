"""The takeover: how a chat socket passes from Hypercorn to us after the 101.

The ASGI app (:mod:`web.ws`) authenticates the handshake, then sends
:data:`TAKEOVER` instead of ``websocket.accept``. Hypercorn, patched by
:mod:`transport.hypercorn_patches`, answers 101, lets go of the connection,
and in the connection's own task runs the app's function with a
:class:`TakenConnection`; :class:`transport.websocket.WebSocketTransport`
reads and writes RFC 6455 frames over it from there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

TAKEOVER = "chat.websocket.takeover"
"""ASGI event type, sent *instead of* ``websocket.accept``: ``{"type": TAKEOVER, "run": run}``.

Hypercorn stops reading the connection, answers the handshake with 101 and
then, in the connection's own task, awaits ``run(TakenConnection(...))``.
The ASGI app returns right after sending it."""


@dataclass(frozen=True, slots=True)
class TakenConnection:
    """A connection after the 101: from here on only the one who took it reads or writes it."""

    stream: trio.abc.HalfCloseableStream | trio.abc.Stream
    early: bytes
    """Bytes that Hypercorn had already read past the handshake (a client that did not wait for the 101)."""
    send_lock: trio.Lock
    """The connection's write lock, Hypercorn's own (reused rather than allocated again)."""
    socket: trio.socket.SocketType | None
    """The TCP socket under ``stream`` when it is plain TCP: direct writes and hard closes go to it."""


TakeoverRun = Callable[[TakenConnection], Awaitable[None]]
