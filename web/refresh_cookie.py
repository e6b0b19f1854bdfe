"""The refresh cookie: a browser stays signed in across tabs and restarts, with no long-lived secret in reach of scripts.

Contract:

* **Issued** at login and at a password change: the cookie
  :data:`COOKIE`, ``<login id>.<secret>``, ``HttpOnly`` (no script reads
  it), ``SameSite=Strict`` (no other site's page sends it), ``Path`` =
  :data:`PATH` (sent to the two endpoints that use it and nowhere else),
  ``Max-Age`` what is left of the login (``auth.max_session_days`` after
  the password was typed), and ``Secure`` when the page is served over
  https: ``server.public_origin`` is an ``https://`` origin, or the request
  itself came over TLS to this server. A proxy that ends TLS in front of
  the server is not believed from a header: set ``public_origin``.
* **Exchanged** by ``POST /api/v1/session/refresh`` for a login answer
  (a bearer token whose ``sid`` claim names the login) and a new secret in
  the cookie: each secret serves once (rotation). The one it replaced is
  still accepted for :data:`REUSE_GRACE_MS`, answered with a token and no
  new cookie (tabs of one browser that asked at the same moment); after
  that, or for any older secret, the request is refused and the login is
  ended, since a replaced secret that comes back is a copy in other hands.
* **Ended** by ``POST /api/v1/logout`` with one of its tokens (and for
  every login of the user by logout everywhere and a password change): the
  row is deleted, the login's ``sid`` is refused
  (:meth:`web.revocation.Revocations.end_login`), so every token it gave
  out stops working at once, in every tab, and the answer clears the
  cookie (a ``Set-Cookie`` from any path may clear it).
* **Stored** hashed: the table holds SHA-256 of each secret (they are 256
  random bits, so a plain hash is enough), never the secret itself. A user
  keeps at most :data:`MAX_LOGINS_PER_USER` browser logins; a new one
  beyond that ends the oldest.
* **Requests** that use the cookie must carry :data:`CSRF_HEADER`: a
  cross-site form cannot set a header, and a cross-site script cannot
  without a CORS preflight, which this server never answers. SameSite=Strict
  already keeps the cookie off such requests; the header is the second lock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass

from werkzeug.http import dump_cookie

from storage.session_credentials import RefreshCredentials, RefreshFamily
from web.errors import ApiError
from web.revocation import Revocations
from web.tokens import LEEWAY_SECONDS

log = logging.getLogger(__name__)

COOKIE = "chat_refresh"
PATH = "/api/v1/session"
CSRF_HEADER = "X-Requested-With"
REUSE_GRACE_MS = 10_000
"""How long the secret a refresh replaced still works: tabs restored at once all send the old one."""
MAX_LOGINS_PER_USER = 50

_FAMILY = re.compile(r"[0-9a-f]{32}")
_SECRET_MAX = 64


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


@dataclass(frozen=True, slots=True)
class CookieSettings:
    secure: bool
    max_age: int


def cookie_header(value: str, settings: CookieSettings) -> str:
    """``Set-Cookie`` for ``value``; an empty value with ``max_age`` 0 clears the cookie."""
    return dump_cookie(
        COOKIE,
        value,
        max_age=settings.max_age,
        path=PATH,
        secure=settings.secure,
        httponly=True,
        samesite="Strict",
    )


def cleared(secure: bool) -> str:
    return cookie_header("", CookieSettings(secure, 0))


def served_securely(public_origin: str | None, scheme: str) -> bool:
    """Whether the browser reaches us over https: then the cookie is ``Secure``."""
    return scheme in ("https", "wss") or (public_origin or "").startswith("https://")


class RefreshRefused(Exception):
    """No cookie, a malformed one, an unknown or ended login, or a replaced secret used again."""


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A cookie exchanged: whose login it is, and the next cookie value (None: keep the one just set)."""

    user_id: str
    session_id: str
    logged_in_at: int
    max_age: int
    value: str | None


class BrowserLogins:
    """Starts, rotates and ends the logins behind refresh cookies."""

    def __init__(
        self, store: RefreshCredentials, revocations: Revocations, *, max_session_days: float, token_ttl: int
    ) -> None:
        self._store = store
        self._revocations = revocations
        self._lifetime = int(max_session_days * 86400)
        self._token_ttl = token_ttl

    async def start(self, user_id: str) -> tuple[str, str, int]:
        """A new login of the user: its id (the tokens' ``sid``), the cookie value, and its ``Max-Age``."""
        now = int(time.time())
        family_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        family = RefreshFamily(
            family_id, user_id, hash_secret(secret), None, now * 1000, now, now + self._lifetime
        )
        # The oldest logins past the cap can no longer be refreshed; their tokens run out as usual
        # (refusing them would cost a revocation per login, and a script logging in in a loop could
        # then fill the revocation table and log its own user out everywhere).
        await self._store.create(family, now=now, keep_per_user=MAX_LOGINS_PER_USER)
        return family_id, f"{family_id}.{secret}", self._lifetime

    async def refresh(self, value: str | None) -> Refreshed:
        """Exchange a cookie value: the login it belongs to and the next value; :class:`RefreshRefused` if not."""
        family_id, secret = _parse(value)
        presented = hash_secret(secret)
        for _ in range(2):  # a second look only when another request rotated it in between
            family = await self._known(family_id)
            left = family.expires_at - int(time.time())
            now_ms = int(time.time() * 1000)
            if _same(family.secret_hash, presented):
                fresh = secrets.token_urlsafe(32)
                if await self._store.rotate(family_id, presented, hash_secret(fresh), now_ms):
                    return Refreshed(
                        family.user_id, family_id, family.logged_in_at, left, f"{family_id}.{fresh}"
                    )
                continue
            if _same(family.previous_hash, presented) and now_ms - family.rotated_at <= REUSE_GRACE_MS:
                return Refreshed(family.user_id, family_id, family.logged_in_at, left, None)
            break
        await self._reused(family)
        raise RefreshRefused("a replaced refresh credential was used again")

    async def end_all(self, user_id: str) -> None:
        """Every browser login of the user (logout everywhere, password change, which refuse their tokens)."""
        await self._store.delete_user(user_id)

    async def end_login(self, family_id: str, user_id: str) -> None:
        """End one login by its id (the ``sid`` of a token being logged out)."""
        await self._store.delete(family_id)
        await self._revocations.end_login(family_id, user_id, self._tokens_until())

    async def _known(self, family_id: str) -> RefreshFamily:
        family = await self._store.find(family_id)
        if family is None or family.expires_at <= time.time():
            raise RefreshRefused("no such login (ended or expired)")
        return family

    async def _reused(self, family: RefreshFamily) -> None:
        log.warning(
            "a replaced refresh cookie of user %s was presented again: that browser login is ended",
            family.user_id,
        )
        await self.end_login(family.family_id, family.user_id)

    def _tokens_until(self) -> int:
        """No token given out before now outlives this (a refresh keeps ``sid`` but not the expiry)."""
        return int(time.time()) + self._token_ttl + LEEWAY_SECONDS


def _parse(value: str | None) -> tuple[str, str]:
    family_id, _, secret = (value or "").partition(".")
    if not _FAMILY.fullmatch(family_id) or not 0 < len(secret) <= _SECRET_MAX:
        raise RefreshRefused("no refresh cookie, or not one of ours")
    return family_id, secret


def csrf_refused() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        f"send this request from the web client's own page, with the header {CSRF_HEADER} (any value)",
    )
