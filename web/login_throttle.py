"""The login throttle: failed passwords are counted so that guessing is slow, without locking owners out.

Three counts, each a :class:`web.ratelimit.SlidingWindow`, after the OWASP
authentication cheat sheet:

* **per username and client address** (``rate_limit.login_failures`` a
  window): the limit a guesser meets first;
* **per client address**, whatever the username (``login_failures_per_address``):
  one address spraying many accounts;
* **per username from addresses it has never logged in from**
  (``login_failures_per_user`` in ``login_user_window``): a slower back-off
  for a distributed guess at one account. An address the account logged in
  from successfully is exempt, so somebody else's guessing cannot keep an
  owner out from where they usually log in; a new place may have to wait.

**Counted before the password is checked.** Each attempt takes its place in
every window *before* the (slow) hash runs and gives it back when the
password was right. Counting only afterwards let a burst sent at once all be
checked before the first failure was recorded.

Usernames are keyed by :func:`storage.database.username_key`, the key
accounts are unique by, so that no spelling of a name gets a fresh count.

The endpoints see :class:`Logins`. :class:`LoginThrottle` keeps the tables
in this process; in the cluster mode :class:`web.cluster_limits.ClusterLogins`
keeps them in Redis, with the same rules, for every process at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import trio

from web.ratelimit import SlidingWindow

KNOWN_ADDRESS_DAYS = 30
KNOWN_ADDRESSES_MAX = 200_000

PAIR_FULL = "too many failed logins for this account from your address"
ADDRESS_FULL = "too many failed logins from your address"
USER_FULL = "too many failed logins for this account"


class LoginThrottled(Exception):
    def __init__(self, retry_after: int, why: str) -> None:
        super().__init__(why)
        self.retry_after = retry_after
        self.why = why


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt's places in the windows, given back if the password was right."""

    pair: str
    address: str
    user: str | None  # None: the address is known for this user, so the user window was not charged
    at: float
    member: str = ""  # the cluster mode's name for its places in Redis (memory finds them by ``at``)


def pair_key(user_key: str, address: str) -> str:
    return f"{user_key}\x00{address}"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_pair: int
    per_address: int
    per_user: int
    window: float
    user_window: float


class Logins(Protocol):
    """What the login and password-change endpoints call, in this order: admit, then release or succeeded."""

    async def admit(self, user_key: str, address: str) -> Attempt:
        """Take this attempt's places, or raise :class:`LoginThrottled` and take none."""
        ...

    async def release(self, attempt: Attempt) -> None:
        """The password was not checked after all: give the attempt's places back."""
        ...

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: give the places back, forget the pair's failures, remember the address."""
        ...

    async def count_malformed(self, address: str) -> None:
        """A login body that could not be read counts against its address like a failure."""
        ...


class LoginThrottle:
    """:class:`Logins` in this process's memory.

    Its methods never wait (they are async only for the interface), so
    nothing runs between an attempt's check and its count.
    """

    def __init__(self, limits: LoginLimits) -> None:
        self.limits = limits
        self._pair = SlidingWindow(limits.per_pair, limits.window)
        self._address = SlidingWindow(limits.per_address, limits.window)
        self._user = SlidingWindow(limits.per_user, limits.user_window)
        self._known: OrderedDict[str, float] = OrderedDict()  # pair -> last successful login

    async def admit(self, user_key: str, address: str) -> Attempt:
        now = trio.current_time()
        pair = pair_key(user_key, address)
        charge_user = not self._is_known(pair, now)
        checks = [(self._pair, pair, PAIR_FULL), (self._address, address, ADDRESS_FULL)]
        if charge_user:
            checks.append((self._user, user_key, USER_FULL))
        for window, key, why in checks:
            wait = window.retry_after(key)
            if wait is not None:
                raise LoginThrottled(wait, why)
        for window, key, _ in checks:
            window.record(key, now)
        return Attempt(pair, address, user_key if charge_user else None, now)

    async def release(self, attempt: Attempt) -> None:
        self._forget(attempt)

    def _forget(self, attempt: Attempt) -> None:
        self._pair.forget(attempt.pair, attempt.at)
        self._address.forget(attempt.address, attempt.at)
        if attempt.user is not None:
            self._user.forget(attempt.user, attempt.at)

    async def succeeded(self, attempt: Attempt) -> None:
        self._forget(attempt)
        self._pair.reset(attempt.pair)
        self._known[attempt.pair] = trio.current_time()
        self._known.move_to_end(attempt.pair)
        while len(self._known) > KNOWN_ADDRESSES_MAX:
            self._known.popitem(last=False)

    def _is_known(self, pair: str, now: float) -> bool:
        seen = self._known.get(pair)
        if seen is None:
            return False
        if now - seen > KNOWN_ADDRESS_DAYS * 86400:
            del self._known[pair]
            return False
        return True

    async def count_malformed(self, address: str) -> None:
        self._address.record(address, trio.current_time())
