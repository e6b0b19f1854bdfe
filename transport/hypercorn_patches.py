"""Hypercorn, patched: the riskiest code in the tree, installed once and explicitly.

These functions change classes inside Hypercorn for the whole process. They
are installed by :func:`install`, which the entry point calls once
(:func:`web.server.serve`), never as a side effect of building a config.
Two guards keep an upgrade of Hypercorn from breaking them silently: the
version range in ``pyproject.toml``, and :func:`check_shape`, which
:func:`install` runs first and ``tests/test_hypercorn_shape.py`` runs in the
suite; it fails loudly, naming what moved, when the installed Hypercorn is
not the shape these patches were written against.

What they do, and why:

* **Takeover.** :func:`enable_takeover` teaches Hypercorn one more ASGI
  event, :data:`transport.takeover.TAKEOVER`, sent instead of
  ``websocket.accept``. Hypercorn's read loop stops (a pending read is
  abandoned with nothing consumed), the 101 goes out through Hypercorn as
  usual, Hypercorn's protocol objects for the connection are dropped, and the
  connection's own task runs the session over a
  :class:`transport.takeover.TakenConnection`.

  Why: per incoming message, Hypercorn's path (a cancel scope per read, h11
  kept past the upgrade, wsproto's parser and events, a reassembly buffer,
  an ASGI queue and a task switch to the app) cost more CPU than the rest of
  the server; per idle connection, its objects and the app's second task
  were a third of the memory. Per outgoing frame, ``websocket.send`` cost a
  wsproto serialisation, four layers of calls, a lock, a cancel scope and
  three task switches.
* **No compression.** Hypercorn offers permessage-deflate to any client that
  asks, and a small compressed frame can inflate to many megabytes before a
  size limit is checked. :func:`decline_compression` replaces the extension
  that Hypercorn's handshake offers with one that declines every offer, so
  the handshake never negotiates it (and our reader refuses RSV1 frames).
* **The key is ours to check.** Hypercorn answers a handshake without
  ``Sec-WebSocket-Key`` with an empty 400 of its own; :func:`leave_key_to_app`
  lets that one through to :mod:`web.ws`, which checks the key's presence and
  shape (16 bytes of base64) together and refuses with the contract's JSON
  ``bad_request``. Hypercorn's other handshake checks stay as they are.
* **A close that finishes.** When an answer is complete before its request
  body has arrived (a 401, 405 or 413 given without reading the body),
  Hypercorn closes the connection, and does it inside the app's last
  ``send``. Quart-Trio cancels that very task once the answer is out, so the
  close stopped at its first checkpoint: the connection stayed open, the
  late body was swallowed, and the next request on it waited forever.
  :func:`close_connections_shielded` lets that close run to its end (a FIN
  and a socket close, no waiting on the peer), bounded in time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from math import inf
from typing import Any

import trio
from hypercorn.events import Closed, RawData
from hypercorn.protocol import ws_stream
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio import tcp_server
from wsproto.extensions import PerMessageDeflate

from transport.takeover import TAKEOVER, TakenConnection, TakeoverRun


class HypercornShapeError(RuntimeError):
    """The installed Hypercorn is not the shape these patches were written against."""


def check_shape() -> None:
    """Raise :class:`HypercornShapeError` naming every part of Hypercorn that is not where it was."""
    ws = getattr(ws_stream, "WSStream", None)
    expected = {
        "hypercorn.protocol.ws_stream.PerMessageDeflate": hasattr(ws_stream, "PerMessageDeflate"),
        "hypercorn.protocol.ws_stream.Handshake.is_valid": hasattr(
            getattr(ws_stream, "Handshake", None), "is_valid"
        ),
        "hypercorn.protocol.ws_stream.WSStream.app_send": hasattr(ws, "app_send"),
        "hypercorn.protocol.ws_stream.WSStream._accept": hasattr(ws, "_accept"),
        "hypercorn.protocol.ws_stream.ASGIWebsocketState.HANDSHAKE": hasattr(
            getattr(ws_stream, "ASGIWebsocketState", None), "HANDSHAKE"
        ),
        "hypercorn.trio.tcp_server.TCPServer._read_data": hasattr(tcp_server.TCPServer, "_read_data"),
        "hypercorn.trio.tcp_server.TCPServer.protocol_send": hasattr(tcp_server.TCPServer, "protocol_send"),
        "hypercorn.trio.tcp_server.MAX_RECV": hasattr(tcp_server, "MAX_RECV"),
    }
    missing = [name for name, present in expected.items() if not present]
    if missing:
        raise HypercornShapeError(
            "this Hypercorn is not the shape transport.hypercorn_patches expects; missing: "
            + ", ".join(missing)
            + ". Read the patches against the new version before upgrading (pyproject.toml pins the range)."
        )


def install() -> None:
    """Check Hypercorn's shape, then install every patch (idempotent); the entry point calls it once."""
    check_shape()
    decline_compression()
    leave_key_to_app()
    enable_takeover()
    close_connections_shielded()


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that accepts no offer and so stays disabled."""

    def accept(self, offer: str) -> None:
        return None


def decline_compression() -> None:
    if not hasattr(ws_stream, "PerMessageDeflate"):
        raise RuntimeError(
            "this Hypercorn version no longer offers permessage-deflate the way transport.hypercorn_patches "
            "expects; check how it negotiates compression before upgrading"
        )
    ws_stream.PerMessageDeflate = _DeclinedDeflate


class _KeyCheckedByApp(ws_stream.Handshake):
    """Hypercorn's handshake validation, except that a missing key is the app's to refuse."""

    def is_valid(self) -> bool:
        if self.key is not None:
            return bool(super().is_valid())
        self.key = b""
        try:
            return bool(super().is_valid())
        finally:
            self.key = None


def leave_key_to_app() -> None:
    """Install :class:`_KeyCheckedByApp` where Hypercorn's WebSocket stream builds its handshake."""
    ws_stream.Handshake = _KeyCheckedByApp  # type: ignore[misc]


def enable_takeover() -> None:
    """Install the :data:`TAKEOVER` event in Hypercorn (idempotent).

    Two small patches: the WebSocket stream's ``app_send`` learns the event,
    and the TCP server's read loop learns to stop, unconsumed, when it arrives.
    """
    ws = getattr(ws_stream, "WSStream", None)
    original = getattr(ws, "app_send", None)
    if getattr(original, "takeover", False):
        return
    shapes = (
        ws is not None and original is not None and hasattr(ws, "_accept"),
        hasattr(ws_stream, "ASGIWebsocketState"),
        hasattr(tcp_server.TCPServer, "_read_data") and hasattr(tcp_server, "MAX_RECV"),
    )
    if not all(shapes):
        raise RuntimeError(
            "this Hypercorn version is not shaped the way transport.hypercorn_patches expects "
            "(WSStream.app_send/_accept, TCPServer._read_data); check enable_takeover before upgrading"
        )

    hypercorn_app_send: Callable[[Any, Any], Awaitable[None]] = original  # type: ignore[assignment]

    async def app_send(self: Any, message: Any) -> None:
        if message is not None and message["type"] == TAKEOVER:
            _request_takeover(self, message["run"])
        else:
            await hypercorn_app_send(self, message)

    app_send.takeover = True  # type: ignore[attr-defined]
    ws.app_send = app_send  # type: ignore[union-attr]
    tcp_server.TCPServer._read_data = _read_data  # type: ignore[method-assign]


def _request_takeover(ws: Any, run: TakeoverRun) -> None:
    """In the app's task: mark the connection as taken and stop Hypercorn's read, without waiting."""
    protocol = getattr(ws.send, "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    if not isinstance(protocol, H11Protocol) or not isinstance(server, tcp_server.TCPServer):
        raise RuntimeError("only an HTTP/1.1 WebSocket served by hypercorn.trio can be taken over")
    if ws.closed:
        return  # the client went, or broke the handshake, before the takeover: nothing to run
    if ws.state is not ws_stream.ASGIWebsocketState.HANDSHAKE:
        raise RuntimeError("the takeover replaces websocket.accept: send it instead, once")
    ws.closed = True  # Hypercorn lets go of the stream: app_send(None) at the app's end does nothing
    server.chat_takeover = (ws, run)  # type: ignore[attr-defined]
    scope = getattr(server, "chat_read_scope", None)
    if scope is not None:
        scope.cancel()  # a pending receive_some is abandoned with nothing consumed


async def _read_data(self: tcp_server.TCPServer) -> None:
    """Hypercorn's read loop, plus: stop unconsumed and hand over once a takeover is requested."""
    early = b""
    taken = False
    while True:
        data: bytes | bytearray | None = None
        with trio.CancelScope() as self.chat_read_scope:  # type: ignore[attr-defined]
            try:
                with trio.fail_after(self.config.read_timeout or inf):
                    data = await self.stream.receive_some(tcp_server.MAX_RECV)
            except (trio.ClosedResourceError, trio.BrokenResourceError, trio.TooSlowError):
                break  # the client went (or timed out) first: no takeover, even if one was asked for
        if getattr(self, "chat_takeover", None) is not None:
            early, taken = bytes(data or b""), True
            break
        if data is None:
            continue
        await self.protocol.handle(RawData(bytes(data)))
        if data == b"":
            break
    self.chat_read_scope = None  # type: ignore[attr-defined]
    if taken:
        await _run_takeover(self, early)
    else:
        self.chat_takeover = None  # type: ignore[attr-defined]
        await self.protocol.handle(Closed())


async def _run_takeover(server: tcp_server.TCPServer, early: bytes) -> None:
    """In the connection's task: send the 101 through Hypercorn, let go of its protocol objects, run."""
    ws, run = server.chat_takeover  # type: ignore[attr-defined]
    server.chat_takeover = None  # type: ignore[attr-defined]
    stream = server.stream
    socket = stream.socket if isinstance(stream, trio.SocketStream) else None
    # Nothing may escape this task: Hypercorn runs connections in the nursery
    # that accepts them, so an exception here would stop the whole server.
    try:
        await ws._accept({"type": "websocket.accept"})  # the 101, and its access-log line
        # From here Hypercorn's h11 state, WebSocket stream and handshake scope are
        # garbage, as long as no frame of this task holds them: most of what an idle
        # connection saves.
        server.protocol = None  # type: ignore[assignment]
        del ws
        await run(TakenConnection(stream, early, server.send_lock, socket))
    except Exception:
        await server.config.log.exception("Error in a taken-over WebSocket connection")


CLOSE_TIMEOUT = 5.0


def close_connections_shielded() -> None:
    """Make Hypercorn's closing of a connection immune to the cancellation of the task doing it (idempotent)."""
    original = tcp_server.TCPServer.protocol_send
    if getattr(original, "shielded_close", False):
        return

    async def protocol_send(self: tcp_server.TCPServer, event: Any) -> None:
        if isinstance(event, Closed):
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):  # bounded: a FIN and a close
                await original(self, event)
        else:
            await original(self, event)

    protocol_send.shielded_close = True  # type: ignore[attr-defined]
    tcp_server.TCPServer.protocol_send = protocol_send  # type: ignore[method-assign]
