"""JSON Web Tokens: issued at login, checked on every request and handshake.

HS256 only, pinned on decode so that ``alg: none`` and algorithm confusion
are refused; ``exp``, ``iat``, ``sub``, ``iss``, ``jti``, ``gen`` and
``auth`` are required; clock leeway is at most 30 seconds. ``jti`` names the
token so that a logout can refuse it alone; ``gen`` is the user's token
generation when it was issued, so that a logout everywhere or a password
change refuses every older token at once (:mod:`web.revocation` checks
both); ``auth`` is when the user logged in, carried over by every refresh,
so that refreshing cannot keep a login alive for ever
(``auth.max_session_days``). A token given out for a browser login that
keeps a refresh cookie (:mod:`web.refresh_cookie`) also carries ``sid``,
the login's id: ending that login (a logout, or a stolen cookie used
twice) refuses every token it gave out at once. A token given to a page
(``page``: asked for with the ``X-Requested-With`` header, or exchanged for
the refresh cookie) lives ``auth.page_token_ttl``, minutes rather than a
day, and so do its refreshes: scripts never hold a long-lived credential,
since the page gets a fresh token from the HttpOnly cookie whenever it needs one.

The secret comes from configuration or, when none is configured, from a
file in the data directory that the first start creates (mode 0600), so
tokens survive a restart without a secret in the source.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from storage.private_files import private_directory, tighten
from wire.shapes import User

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 30
SECRET_FILE = "jwt_secret"


class InvalidToken(Exception):
    """Missing, malformed, forged, expired or otherwise unacceptable token."""


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    username: str
    expires_at: int
    token_id: str
    generation: int
    logged_in_at: int
    """When the user typed their password (seconds since the epoch); refreshing keeps it."""
    session_id: str | None = None
    """The browser login (refresh cookie) the token belongs to; refreshing keeps it. None: none."""
    page: bool = False
    """Given to a web page: short-lived (``page_ttl``), and so are the tokens refreshing it gives."""


class TokenService:
    def __init__(self, secret: str, issuer: str, ttl: int, page_ttl: int | None = None) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("the JWT secret must be at least 32 bytes")
        self._secret = secret
        self.issuer = issuer
        self.ttl = ttl
        self.page_ttl = min(ttl, ttl if page_ttl is None else page_ttl)

    def lifetime(self, *, page: bool) -> int:
        """Seconds a new token lives: ``page_ttl`` for a web page's, ``ttl`` for any other client's."""
        return self.page_ttl if page else self.ttl

    def issue(
        self,
        user: User,
        generation: int,
        *,
        logged_in_at: int | None = None,
        session_id: str | None = None,
        page: bool = False,
    ) -> str:
        """A new token; ``logged_in_at``, ``session_id`` and ``page`` carry the original login's over to a refreshed one."""
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": user.user_id,
            "name": user.username,
            "iat": now,
            "exp": now + self.lifetime(page=page),
            "iss": self.issuer,
            "jti": secrets.token_hex(16),
            "gen": generation,
            "auth": now if logged_in_at is None else logged_in_at,
        }
        if session_id is not None:
            claims["sid"] = session_id
        if page:
            claims["page"] = True
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "jti", "gen", "auth"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        sub, name = claims.get("sub"), claims.get("name", "")
        if not isinstance(sub, str) or not sub or not isinstance(name, str):
            raise InvalidToken("bad subject")
        jti, gen, auth = claims["jti"], claims["gen"], claims["auth"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 32 or type(gen) is not int or gen < 0:
            raise InvalidToken("bad token id or generation")
        if type(auth) is not int:
            raise InvalidToken("bad login time")
        sid = claims.get("sid")
        if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= 32):
            raise InvalidToken("bad login id")
        return Claims(sub, name, int(claims["exp"]), jti, gen, auth, sid, claims.get("page") is True)


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """The configured secret, or the one kept in the data directory (created on first start)."""
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    else:
        tighten(path)
        if len(secret.encode()) >= 32:
            return secret
        raise ValueError(f"{path} holds a secret shorter than 32 bytes; delete it or set CHAT_JWT_SECRET")
    private_directory(data_dir)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret)
    log.warning(
        "no JWT secret configured: generated one in %s (mode 0600); set CHAT_JWT_SECRET to share "
        "it between servers",
        path,
    )
    return secret
