"""The WebSocket endpoint: authenticate the handshake, then hand the socket to a session.

``/ws`` is served in ASGI directly, by :class:`ChatSocketEndpoint`, a
middleware around the Quart-Trio app (every other path, and every other
WebSocket path, goes on to Quart). Quart's WebSocket object puts each
incoming message through a queue and a task of its own and each outgoing one
through its own wrapper; for a chat socket that is pure per-message cost, so
the session talks to Hypercorn's ASGI ``receive`` and ``send`` itself.

The handshake is refused *before* any upgrade: 401 for a missing or invalid
token, 403 for a browser ``Origin`` outside the allow-list (by default only
the server's own origin; a handshake without ``Origin`` comes from a
non-browser client and is allowed), 503 while the server shuts down. The
answers are plain HTTP responses with the contract's JSON error body, sent
through the ASGI ``websocket.http.response`` extension.

Outgoing frames do not go through ASGI at all: right after the accept, the
transport asks Hypercorn for the connection's
:class:`web.hypercorn_setup.RawSocket` (the :data:`RAW_SOCKET` event our
Hypercorn set-up adds), and the writer actor puts prebuilt frames on it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import trio

from actors.session import (
    Session,
    SessionDeps,
    SessionSettings,
    TransportClosed,
    new_session_id,
    run_session,
)
from storage.interface import User
from web.api import authenticate, bearer_token
from web.errors import ApiError
from web.hypercorn_setup import RAW_SOCKET, ConnectionGone, RawSocket
from web.services import Services

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

PATH = "/ws"


class AsgiTransport:
    """:class:`actors.session.Transport`: ASGI ``receive`` in, the raw socket out."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._raw: RawSocket | None = None
        self._closed = False

    async def open(self) -> None:
        """Take over the accepted connection's socket for writing."""
        await self._send({"type": RAW_SOCKET, "attach": self._attach})
        if self._raw is None:
            raise RuntimeError(
                "the server did not hand over the WebSocket's socket: run under Hypercorn "
                "with web.hypercorn_setup.enable_raw_socket() installed"
            )

    def _attach(self, raw: RawSocket) -> None:
        self._raw = raw

    async def receive(self) -> str | bytes:
        message = await self._receive()
        if message["type"] == "websocket.receive":
            text: str | None = message.get("text")
            if text is not None:
                return text
            data: bytes = message.get("bytes") or b""
            return data
        self._closed = True  # websocket.disconnect: the client has gone
        raise TransportClosed()

    def write_now(self, data: bytes) -> int:
        if self._closed or self._raw is None:
            raise TransportClosed()
        try:
            return self._raw.write_now(data)
        except ConnectionGone:
            raise TransportClosed() from None

    async def send(self, data: bytes) -> None:
        if self._closed or self._raw is None:
            raise TransportClosed()
        try:
            await self._raw.send(data)
        except (ConnectionGone, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed() from exc

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def abort(self) -> None:
        self._closed = True
        if self._raw is not None:
            self._raw.abort()


def origin_allowed(origin: str, host: str | None, scheme: str, allowed: tuple[str, ...]) -> bool:
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    if host is None:
        return False
    own_scheme = "https" if scheme in ("wss", "https") else "http"
    return origin.lower() == f"{own_scheme}://{host}".lower()


class ChatSocketEndpoint:
    """ASGI middleware that serves ``/ws`` and passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, svc: Services) -> None:
        self._app = app
        self._svc = svc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != PATH:
            await self._app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        svc = self._svc
        try:
            user, expires_at = await self._check_handshake(scope)
        except ApiError as error:
            await _refuse(send, error)
            return
        await send({"type": "websocket.accept"})
        transport = AsgiTransport(receive, send)
        await transport.open()
        config = svc.config
        session = Session(
            new_session_id(user),
            user,
            transport,
            SessionDeps(
                registry=svc.registry_ref, rooms=svc.rooms, find_user=svc.db.get_user, writer=svc.writer
            ),
            SessionSettings(outbox_capacity=config.session_outbox, max_content=config.max_content),
            token_expires_at=expires_at,
        )
        svc.count("sessions_opened")
        await run_session(session, transport)

    async def _check_handshake(self, scope: Scope) -> tuple[User, int]:
        svc = self._svc
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(
            origin, headers.get("host"), scope.get("scheme", "ws"), svc.config.allowed_origins
        ):
            raise ApiError(403, "forbidden", "this origin may not open a WebSocket here")
        token = bearer_token(headers.get("authorization"))
        if token is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [None])[0]
        user, expires_at = await authenticate(svc, token or None)
        if not svc.ready:
            raise ApiError(503, "internal", "the server is shutting down; reconnect later")
        return user, expires_at


async def _refuse(send: Send, error: ApiError) -> None:
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
