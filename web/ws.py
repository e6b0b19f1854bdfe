"""The WebSocket endpoint: authenticate the handshake, then hand the socket to a session.

The handshake is refused *before* any upgrade: 401 for a missing or invalid
token, 403 for a browser ``Origin`` outside the allow-list (by default only
the server's own origin; a handshake without ``Origin`` comes from a
non-browser client and is allowed). Hypercorn sends these answers as plain
HTTP responses through the ASGI ``websocket.http.response`` extension.
"""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, websocket
from quart.typing import ResponseReturnValue

from actors.session import (
    Session,
    SessionDeps,
    SessionSettings,
    TransportClosed,
    new_session_id,
    run_session,
)
from web.api import authenticate, bearer_token
from web.errors import ApiError, api_error_response, error_response
from web.services import services

ws = Blueprint("ws", __name__)


class QuartTransport:
    """Adapts Quart's websocket object to :class:`actors.session.Transport`."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._closed = False

    async def receive(self) -> str | bytes:
        data: str | bytes = await self._socket.receive()
        return data

    async def send(self, frame: str) -> None:
        if self._closed:
            raise TransportClosed()
        try:
            await self._socket.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError, RuntimeError) as exc:
            raise TransportClosed() from exc

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._socket.close(code, reason)
        except (trio.BrokenResourceError, trio.ClosedResourceError, RuntimeError):
            pass


def origin_allowed(origin: str, host: str | None, scheme: str, allowed: tuple[str, ...]) -> bool:
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    if host is None:
        return False
    own_scheme = "https" if scheme in ("wss", "https") else "http"
    return origin.lower() == f"{own_scheme}://{host}".lower()


@ws.websocket("/ws")
async def chat_socket() -> ResponseReturnValue | None:
    svc = services()
    config = svc.config
    origin = websocket.headers.get("Origin")
    if origin is not None and not origin_allowed(
        origin, websocket.headers.get("Host"), websocket.scheme, config.allowed_origins
    ):
        return error_response(403, "forbidden", "this origin may not open a WebSocket here")
    token = bearer_token(websocket.headers.get("Authorization")) or websocket.args.get("token")
    try:
        user, expires_at = await authenticate(svc, token or None)
    except ApiError as error:
        return api_error_response(error)
    if not svc.ready:
        return error_response(503, "internal", "the server is shutting down; reconnect later")
    await websocket.accept()
    socket = websocket._get_current_object()  # type: ignore[attr-defined]
    transport = QuartTransport(socket)
    session = Session(
        new_session_id(user),
        user,
        transport,
        SessionDeps(registry=svc.registry_ref, rooms=svc.rooms, find_user=svc.db.get_user),
        SessionSettings(outbox_capacity=config.session_outbox, max_content=config.max_content),
        token_expires_at=expires_at,
    )
    svc.count("sessions_opened")
    await run_session(session, transport)
    return None
