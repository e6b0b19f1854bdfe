"""The throttles in the cluster mode: the one-process rules, counted in Redis for every process.

A round-robin balancer sends each attempt to any process, so counts kept
per process would let a guesser through once per process. Here the same
windows (:class:`web.ratelimit.Rate`, :class:`web.login_throttle.Logins`)
are counted by :class:`cluster.throttle.RedisWindows`: the same limits, the
same ``Retry-After``, places taken before the password hash in one atomic
step and given back as in one process, and the login's known addresses
kept in Redis too, so an owner is known at their usual address by every
process (for :data:`web.login_throttle.KNOWN_ADDRESS_DAYS` after their last
login from it).

**When Redis cannot be reached** an attempt is refused with
:class:`web.ratelimit.CountsUnavailable` (503 ``unavailable``,
``Retry-After``) instead of passing uncounted. Giving places back
afterwards is best effort: a login whose password was right still succeeds
(its places then stay counted until they leave the window), and a body that
could not be read is refused as it would be anyway.
"""

from __future__ import annotations

import logging

from cluster.link import ClusterUnavailable
from cluster.throttle import Full, Place, RedisWindows, Window
from web.login_throttle import (
    ADDRESS_FULL,
    KNOWN_ADDRESS_DAYS,
    PAIR_FULL,
    USER_FULL,
    Attempt,
    LoginLimits,
    LoginThrottled,
    pair_key,
)
from web.ratelimit import CountsUnavailable

log = logging.getLogger(__name__)

KNOWN = "login-known"
"""The flag, per username and address, that the account logged in from there."""


class ClusterRate:
    """:class:`web.ratelimit.Rate` in Redis."""

    def __init__(self, windows: RedisWindows, window: Window) -> None:
        self._windows = windows
        self._window = window

    @property
    def limit(self) -> int:
        return self._window.limit

    @property
    def window(self) -> float:
        return self._window.seconds

    async def take(self, key: str) -> int | None:
        try:
            result = await self._windows.take([(self._window, key)])
        except ClusterUnavailable:
            raise CountsUnavailable() from None
        return result.retry_after if isinstance(result, Full) else None


class ClusterLogins:
    """:class:`web.login_throttle.Logins` in Redis: the pair, address and user windows, and known addresses."""

    def __init__(self, windows: RedisWindows, limits: LoginLimits) -> None:
        self._windows = windows
        self._pair = Window("login-pair", limits.per_pair, limits.window)
        self._address = Window("login-address", limits.per_address, limits.window)
        self._user = Window("login-user", limits.per_user, limits.user_window)

    def _places(self, attempt: Attempt) -> list[Place]:
        """The windows the attempt was counted in."""
        places = [(self._pair, attempt.pair), (self._address, attempt.address)]
        if attempt.user is not None:
            places.append((self._user, attempt.user))
        return places

    async def admit(self, user_key: str, address: str) -> Attempt:
        pair = pair_key(user_key, address)
        places = [(self._pair, pair), (self._address, address), (self._user, user_key)]
        try:
            result = await self._windows.take(places, unless=self._windows.flag(KNOWN, pair))
        except ClusterUnavailable:
            raise CountsUnavailable() from None
        if isinstance(result, Full):
            raise LoginThrottled(result.retry_after, (PAIR_FULL, ADDRESS_FULL, USER_FULL)[result.index])
        charged_user = result.counted == len(places)
        return Attempt(pair, address, user_key if charged_user else None, 0.0, result.member)

    async def release(self, attempt: Attempt) -> None:
        try:
            await self._windows.give_back(self._places(attempt), attempt.member)
        except ClusterUnavailable:
            log.warning("could not give a login attempt's places back: Redis cannot be reached")

    async def succeeded(self, attempt: Attempt) -> None:
        places = self._places(attempt)
        try:
            await self._windows.settle(
                places[1:],
                attempt.member,
                empty=places[0],
                flag=self._windows.flag(KNOWN, attempt.pair),
                lifetime=KNOWN_ADDRESS_DAYS * 86400,
            )
        except ClusterUnavailable:
            log.warning("could not record a successful login's address: Redis cannot be reached")

    async def count_malformed(self, address: str) -> None:
        try:
            await self._windows.record(self._address, address)
        except ClusterUnavailable:
            log.debug(
                "a malformed login went uncounted: Redis cannot be reached (logins are refused meanwhile)"
            )
