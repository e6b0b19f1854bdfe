"""What a browser may do with this server: the security headers and the server's own origins.

**Headers.** :class:`SecurityHeaders` wraps the whole ASGI app and adds, to
every HTTP response it sends (the page, static files, API answers, errors,
and the refusals of the ``/ws`` handshake):

* ``Content-Security-Policy``: scripts, styles, images, fetches and
  WebSockets from our own origin only (``data:`` images for the empty
  favicon), no plugins, no ``<base>``, forms post to us, and no page may
  frame ours (``frame-ancestors 'none'``, which is also the clickjacking
  answer). The web client has no inline script, style or handler, so it runs
  unchanged under it. ``'self'`` covers ``ws:``/``wss:`` of our own origin in
  current browsers (CSP level 3); when ``server.public_origin`` is set, its
  WebSocket origin is listed as well, for browsers that predate that rule.
* ``X-Content-Type-Options: nosniff``: a JSON answer or an uploaded-looking
  body is never run as script or style.
* ``Referrer-Policy: no-referrer``: nothing of our URLs leaks to another site.

A response that already carries one of these headers keeps its own.

**Own origins.** A browser's ``Origin`` on the ``/ws`` handshake is compared
with the server's own origins, decided without the ``Host`` header (which
the client writes): ``server.public_origin`` when it is set; otherwise
:func:`socket_origins`, the origins of the address the connection arrived on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

_RESPONSE_STARTS = frozenset({"http.response.start", "websocket.http.response.start"})


def content_security_policy(public_origin: str | None) -> str:
    connect = "'self'"
    if public_origin is not None:
        connect += " " + public_origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def security_headers(public_origin: str | None) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(public_origin).encode("latin-1")),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


class SecurityHeaders:
    """ASGI middleware: every response start gets the headers it does not already have."""

    def __init__(self, app: ASGIApp, public_origin: str | None) -> None:
        self._app = app
        self._headers = security_headers(public_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in _RESPONSE_STARTS:
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [(name, value) for name, value in self._headers if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


def origin_key(origin: str) -> str:
    """The form in which two origins are compared: as a browser serialises them, lower case."""
    return origin.strip().rstrip("/").lower()


def socket_origins(local: tuple[str, int] | None, scheme: str) -> frozenset[str]:
    """The origins a browser uses to reach the server through the local address ``local``.

    ``local`` is the address and port of the server's end of the connection
    (the ASGI scope's ``server``, from ``getsockname``): for a server bound
    to one address, that address; bound to ``0.0.0.0`` or ``::``, the one
    the client connected to. The origin is ``http://<address>:<port>``
    (IPv6 in brackets, ``:80`` left out as browsers do); a loopback address
    adds ``http://localhost:<port>``, so that ``http://127.0.0.1:8000`` and
    ``http://localhost:8000`` both work on a developer's machine. ``https``
    replaces ``http`` when the connection itself is TLS. A Unix socket has
    no such origin: only the configured ones apply.
    """
    if local is None:
        return frozenset()
    host, port = local
    own = "https" if scheme in ("https", "wss") else "http"
    suffix = "" if port == (443 if own == "https" else 80) else f":{port}"
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return frozenset({f"{own}://{host.lower()}{suffix}"})
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    written = f"[{address}]" if address.version == 6 else str(address)
    origins = {f"{own}://{written}{suffix}"}
    if address.is_loopback:
        origins.add(f"{own}://localhost{suffix}")
    return frozenset(origins)
