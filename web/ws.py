"""The WebSocket endpoint: authenticate the handshake, then hand the socket to a session.

``/ws`` is served in ASGI directly, by :class:`ChatSocketEndpoint`, a
middleware around the Quart-Trio app (every other path, and every other
WebSocket path, goes on to Quart). Quart's WebSocket object puts each
incoming message through a queue and a task of its own and each outgoing one
through its own wrapper; for a chat socket that is pure per-message cost.

The handshake is refused *before* any upgrade: 400 for a ``Sec-WebSocket-Key``
that is missing or not 16 bytes of base64 (RFC 6455 4.2.1), 401 for a missing
or invalid token, 403 for a browser ``Origin`` outside the allow-list (the
server's own origins, never taken from ``Host``: see :mod:`web.browser_policy`;
a handshake without ``Origin`` comes from a non-browser client and is
allowed), 503 while the server shuts down. The
answers are plain HTTP responses with the contract's JSON error body, sent
through the ASGI ``websocket.http.response`` extension.

A handshake that passes is not accepted through ASGI: the endpoint sends
:data:`web.hypercorn_setup.TAKEOVER` instead, Hypercorn answers 101 and
hands the connection over, and the session runs in the connection's own
task over a :class:`web.ws_transport.WebSocketTransport`. No frame of a chat
socket goes through ASGI, in either direction. WebSockets over HTTP/2
(RFC 8441) are refused with 400: one HTTP/2 connection carries many streams,
so there is no socket to take over.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from actors.flood import FloodSettings
from actors.revisions import RevisionSettings
from actors.session import Session, SessionDeps, SessionSettings, SessionToken, new_session_id, run_session
from storage.revisions import RevisionTables
from transport.takeover import TAKEOVER, TakenConnection
from transport.websocket import WebSocketTransport
from web.auth import authenticate, bearer_token
from web.browser_policy import origin_key, socket_origins
from web.errors import ApiError
from web.services import Services
from web.tokens import Claims
from wire.shapes import User

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

PATH = "/ws"


def origin_allowed(origin: str, allowed: frozenset[str], local: tuple[str, int] | None, scheme: str) -> bool:
    """Whether a browser page at ``origin`` may open ``/ws``.

    ``allowed`` holds the configured origins (``allowed_origins`` and
    ``public_origin``); ``local`` is the server's end of the connection, whose
    origins count too unless ``public_origin`` is set (then it is None). The
    ``Host`` header never counts: any client can write any ``Host``.
    """
    key = origin_key(origin)
    return key in allowed or key in socket_origins(local, scheme)


class ChatSocketEndpoint:
    """ASGI middleware that serves ``/ws`` and passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, svc: Services) -> None:
        self._app = app
        self._svc = svc
        config = svc.config
        # The same for every session: built once and shared (both are frozen), not per connection.
        self._deps = SessionDeps(
            registry=svc.registry_ref,
            rooms=svc.rooms,
            find_user=svc.db.get_user,
            schedule=svc.writer.schedule,
            check_token=self._check_token,
            read_markers=svc.read_markers,
            joined_rooms=svc.joined_rooms,
            moderation=svc.db.moderation,
            blocks=svc.blocks,
            invitations=svc.db.moderation.members,
            revisions=RevisionSettings(
                RevisionTables(svc.db),
                config.edit_window,
                svc.limits.message_changes_by_user.take if svc.limits.enabled else None,
            ),
        )
        self._settings = SessionSettings(
            outbox_capacity=config.session_outbox,
            max_content=config.max_content,
            flood=FloodSettings(
                config.ws_frame_rate, config.ws_frame_burst, config.ws_bytes_per_second, config.ws_byte_burst
            )
            if config.rate_limit_enabled
            else None,
        )
        public = () if config.public_origin is None else (config.public_origin,)
        self._origins = frozenset(origin_key(o) for o in (*config.allowed_origins, *public))
        self._origins_from_socket = config.public_origin is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != PATH:
            await self._app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            user, claims = await self._check_handshake(scope)
            linger = _linger(scope, self._svc.config.leave_grace)
        except ApiError as error:
            await _refuse(send, error)
            return
        await send({"type": TAKEOVER, "run": partial(self._serve, user, claims, linger)})

    async def _serve(self, user: User, claims: Claims, linger: float, connection: TakenConnection) -> None:
        """In the connection's task, after the 101: the session over our own transport."""
        svc = self._svc
        config = svc.config
        transport = WebSocketTransport(
            connection,
            max_message=config.max_frame,
            idle_timeout=config.idle_timeout,
            max_fragments=config.max_fragments,
        )
        session = Session(
            new_session_id(user),
            user,
            transport,
            self._deps,
            self._settings,
            token=_session_token(svc, claims),
        )
        session.handle.linger = linger
        svc.count("sessions_opened")
        await run_session(session, transport)

    async def _check_token(self, token: str) -> tuple[str, SessionToken] | None:
        """A token a live session refreshes to: its user and its part in the session, or None."""
        try:
            _, claims = await authenticate(self._svc, token)
        except ApiError:
            return None
        return claims.user_id, _session_token(self._svc, claims)

    async def _check_handshake(self, scope: Scope) -> tuple[User, Claims]:
        svc = self._svc
        if scope.get("http_version") != "1.1":
            raise ApiError(400, "bad_request", "open the WebSocket over HTTP/1.1")
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        key = headers.get("sec-websocket-key", "")
        try:
            nonce = base64.b64decode(key, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII header value
            nonce = b""
        if len(nonce) != 16 or base64.b64encode(nonce).decode() != key:
            raise ApiError(400, "bad_request", "Sec-WebSocket-Key must be 16 random bytes in base64")
        origin = headers.get("origin")
        local = scope.get("server") if self._origins_from_socket else None
        if origin is not None and not origin_allowed(origin, self._origins, local, scope.get("scheme", "ws")):
            raise ApiError(403, "forbidden", "this origin may not open a WebSocket here")
        token = bearer_token(headers.get("authorization"))
        if token is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [None])[0]
        user, claims = await authenticate(svc, token or None)
        if not svc.ready:
            raise ApiError(503, "internal", "the server is shutting down; reconnect later")
        return user, claims


def _linger(scope: Scope, most: float) -> float:
    """The grace the client asks for before its drop is announced as leaving (``?linger=S``), at most ``most``.

    See :mod:`actors.departures`. Absent: none, as the contract has it.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = (query.get("linger") or [None])[0]
    if asked is None:
        return 0.0
    try:
        seconds = float(asked)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 3600:  # NaN fails too
        raise ApiError(400, "bad_request", "linger must be a number of seconds from 0 to 3600")
    return min(seconds, most)


def _session_token(svc: Services, claims: Claims) -> SessionToken:
    return SessionToken(claims.token_id, claims.expires_at, partial(svc.revocations.accepts_now, claims))


async def _refuse(send: Send, error: ApiError) -> None:
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
