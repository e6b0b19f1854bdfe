"""Who is calling: bearer tokens, the client's address, and bounded JSON bodies.

What every HTTP handler and the ``/ws`` handshake need before they do their
own work. A token is accepted when its signature, expiry and issuer hold
(:mod:`web.tokens`), its user still exists, and it has not been logged out
or replaced (:mod:`web.revocation`).
"""

from __future__ import annotations

from typing import Any

from quart import request

from web import validation
from web.errors import ApiError
from web.services import Services
from web.tokens import Claims, InvalidToken
from wire.shapes import User
from wire.strict_json import decode_json

BODY_MAX = 4096
"""Bytes of any JSON body the API accepts: its largest (a password change, every character
escaped as ``\\uXXXX``) fits with room to spare. The app refuses larger ones with 413."""


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(svc: Services, token: str | None) -> tuple[User, Claims]:
    """The token's user and claims, or ApiError 401 (also for a token logged out or replaced)."""
    unauthorized = ApiError(401, "unauthorized", "a valid bearer token is required; log in again")
    if token is None:
        raise unauthorized
    try:
        claims = svc.tokens.verify(token)
    except InvalidToken:
        raise unauthorized from None
    user = await svc.db.get_user(claims.user_id)
    if user is None or not await svc.revocations.accepts(claims):
        raise unauthorized
    return user, claims


async def current_user(svc: Services) -> User:
    user, _ = await current_claims(svc)
    return user


async def current_claims(svc: Services) -> tuple[User, Claims]:
    return await authenticate(svc, bearer_token(request.headers.get("Authorization")))


def client_address(svc: Services) -> str:
    """The caller's address: the peer, or what a trusted proxy says (:mod:`web.client_address`)."""
    return svc.client_address.of(request.remote_addr, request.headers.getlist("X-Forwarded-For"))


async def json_body(max_bytes: int = BODY_MAX) -> dict[str, Any]:
    """The request's JSON object, parsed strictly, or 400; over ``max_bytes``, 413 before it is parsed."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise body_too_large(max_bytes)
    raw = bytearray()
    async for chunk in request.body:
        raw += chunk
        if len(raw) > max_bytes:
            raise body_too_large(max_bytes)
    try:
        body = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise validation.bad_request(f"the body must be a JSON object: {exc}") from None
    if not isinstance(body, dict):
        raise validation.bad_request("the body must be a JSON object")
    return body


def body_too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "bad_request", f"the body is larger than {max_bytes} bytes")


def throttled(retry_after: int, why: str = "too many attempts") -> ApiError:
    return ApiError(
        429, "rate_limited", f"{why}; try again in {retry_after} s", {"Retry-After": str(retry_after)}
    )
