"""Which tokens are still good: logout, logout everywhere, and password changes.

A JWT is valid until it expires unless the server remembers otherwise, so a
leaked token used to work for up to a day, open sockets included. Two
things are remembered, in the database (so a logout outlives a restart) and
in memory (so checking costs no query):

* **logged-out tokens**, by their ``jti``, until they would have expired;
* **each user's token generation**: logout-all and a password change move it
  on, and every token issued under an older one is refused;
* **ended browser logins**, by the ``sid`` their tokens carry (the id of a
  refresh cookie's login, :mod:`web.refresh_cookie`), in the same table as
  logged-out tokens (both ids are 32 random hex characters), until the
  last token such a login gave out would have expired.

Every authentication (HTTP and the ``/ws`` handshake) asks :meth:`accepts`.
A session re-asks :meth:`accepts_now` once it is registered, which closes
the gap for a handshake that was checked just before a revocation: its
registration then reaches the registry before the revocation's close does,
or it finds the revocation itself.

**Deactivated accounts** (``chat-server deactivate``) are refused too,
whatever their tokens: the set of them is read at start-up and, while the
server runs, the new ones every ``moderation.deactivation_check`` seconds
(:meth:`look_for_deactivations`, called by :mod:`web.deactivation`, which
also closes their sessions). A command-line tool cannot reach into a
running process, and every process of a cluster reads the same table, so
polling is the one path that works alike for one process and many.

Memory stays bounded: a user with more than :data:`MAX_REVOKED_PER_USER`
logged-out tokens still valid has their generation moved on instead (the
next logout logs them out everywhere).

In the cluster mode each process keeps these tables for itself, and every
revocation is also published on the cluster's control channel
(``announce``); the other processes apply it with :meth:`heard`, so a
logged-out token is refused by every process. A token newer than the
generation a process knows (the one a password change just returned,
used on another process before the announcement arrived) sends it to the
database rather than being refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from storage.credentials import Credentials
from storage.interface import LogUnavailable
from storage.operators import Operators
from web.tokens import Claims

log = logging.getLogger(__name__)

MAX_REVOKED_PER_USER = 100


class Revocations:
    def __init__(
        self,
        credentials: Credentials,
        announce: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        operators: Operators | None = None,
    ) -> None:
        self._credentials = credentials
        self._operators = operators
        self._deactivated: set[str] = set()  # accounts deactivated, as far as read
        self._deactivations_read = 0  # the id of the newest deactivation read
        self._announce = announce
        self._generations: dict[str, int] = {}  # user_id -> current generation, as far as loaded
        self._revoked: dict[str, tuple[str, int]] = {}  # jti -> (user_id, exp)
        self._revoked_per_user: dict[str, int] = {}
        self._next_prune = 1024

    async def load(self) -> None:
        """Read the logged-out tokens that have not expired yet (at start-up)."""
        for jti, (user_id, exp) in (await self._credentials.revoked(int(time.time()))).items():
            self._remember(jti, user_id, exp)
        if self._operators is not None:
            self._deactivated, self._deactivations_read = await self._operators.deactivated()

    async def look_for_deactivations(self) -> set[str]:
        """Read the accounts deactivated since the last look: refused from now on; the new ones."""
        if self._operators is None:
            return set()
        new, self._deactivations_read = await self._operators.deactivated_after(self._deactivations_read)
        new -= self._deactivated
        self._deactivated |= new
        return new

    async def generation(self, user_id: str) -> int:
        known = self._generations.get(user_id)
        if known is None:
            known = self._generations[user_id] = await self._credentials.generation(user_id)
        return known

    async def accepts(self, claims: Claims) -> bool:
        if self._refused(claims):
            return False
        known = await self.generation(claims.user_id)
        if claims.generation > known:
            # Issued under a generation this process has not heard of: another one moved it on (a
            # password change) a moment ago, and its announcement is on its way. The database knows.
            stored = await self._credentials.generation(claims.user_id)
            known = self._generations[claims.user_id] = max(stored, self._generations.get(claims.user_id, 0))
        return claims.generation == known

    def accepts_now(self, claims: Claims) -> bool:
        """:meth:`accepts` without waiting, for a token :meth:`accepts` has seen (its user's generation is loaded)."""
        if self._refused(claims):
            return False
        return claims.generation == self._generations.get(claims.user_id, claims.generation)

    def _refused(self, claims: Claims) -> bool:
        """Logged out, of an ended browser login, or of a deactivated account."""
        return (
            claims.token_id in self._revoked
            or (claims.session_id is not None and claims.session_id in self._revoked)
            or claims.user_id in self._deactivated
        )

    async def revoke(self, claims: Claims) -> None:
        """Refuse this token from now on (logout)."""
        await self._revoke_id(claims.token_id, claims.user_id, claims.expires_at)

    async def end_login(self, session_id: str, user_id: str, tokens_until: int) -> None:
        """Refuse every token of the browser login ``session_id`` (its ``sid``); none outlives ``tokens_until``."""
        await self._revoke_id(session_id, user_id, tokens_until)

    async def _revoke_id(self, jti: str, user_id: str, exp: int) -> None:
        if self._revoked_per_user.get(user_id, 0) >= MAX_REVOKED_PER_USER:
            await self.revoke_all(user_id)
            return
        self._remember(jti, user_id, exp)  # refused at once, then stored
        await self._credentials.revoke(jti, user_id, exp)
        await self._tell_the_cluster({"order": "tokens", "user_id": user_id, "jti": jti, "exp": exp})

    async def revoke_all(self, user_id: str) -> int:
        """Refuse every token of the user issued so far (logout everywhere, password change); the new generation."""
        current = await self.generation(user_id)
        self._generations[user_id] = current + 1  # refused at once, then stored
        self._generations[user_id] = await self._credentials.next_generation(user_id)
        await self._tell_the_cluster(
            {"order": "tokens", "user_id": user_id, "generation": self._generations[user_id]}
        )
        return self._generations[user_id]

    async def heard(self, order: dict[str, Any]) -> None:
        """Another process revoked tokens (a control order): refuse them here too.

        ``{"order": "resync"}`` (the cluster lost Redis, so announcements may
        have been missed) drops what this process remembers and reads it again
        from the database.
        """
        if order.get("order") == "resync":
            self._generations.clear()
            await self.load()
            return
        if order.get("order") != "tokens":
            return
        user_id = str(order["user_id"])
        if "jti" in order:
            self._remember(str(order["jti"]), user_id, int(order["exp"]))
        if "generation" in order:
            known = self._generations.get(user_id)
            if known is not None:  # not loaded: the database will answer when it is needed
                self._generations[user_id] = max(known, int(order["generation"]))

    async def _tell_the_cluster(self, order: dict[str, Any]) -> None:
        if self._announce is not None:
            try:
                await self._announce(order)
            except LogUnavailable:
                log.warning(
                    "could not tell the other processes of a revocation; they read it from the database"
                )

    def _remember(self, jti: str, user_id: str, exp: int) -> None:
        if len(self._revoked) >= self._next_prune:
            self._prune(int(time.time()))
            self._next_prune = max(
                1024, 2 * len(self._revoked)
            )  # amortised: each entry is looked at O(1) times
        if jti not in self._revoked:
            self._revoked[jti] = (user_id, exp)
            self._revoked_per_user[user_id] = self._revoked_per_user.get(user_id, 0) + 1

    def _prune(self, now: int) -> None:
        for jti, (user_id, exp) in list(self._revoked.items()):
            if exp < now:
                del self._revoked[jti]
                left = self._revoked_per_user[user_id] - 1
                if left:
                    self._revoked_per_user[user_id] = left
                else:
                    del self._revoked_per_user[user_id]
