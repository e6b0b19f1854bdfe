"""Users by id, remembered for the hot lookups (tokens, private messages), bounded.

A user's id and name never change, so an entry is never stale; the only
question is memory. Every account that ever connected would otherwise stay
here for the life of the process, so the least recently used ones are
forgotten past :data:`USERS_KEPT` and read again when asked for.
"""

from __future__ import annotations

from collections import OrderedDict

from wire.shapes import User

USERS_KEPT = 50_000
"""About 10 MB of entries: the active accounts of a large site, not all of them."""


class UserCache:
    def __init__(self, capacity: int = USERS_KEPT) -> None:
        self._capacity = capacity
        self._users: OrderedDict[str, User] = OrderedDict()

    def get(self, user_id: str) -> User | None:
        user = self._users.get(user_id)
        if user is not None:
            self._users.move_to_end(user_id)
        return user

    def put(self, user: User) -> None:
        self._users[user.user_id] = user
        self._users.move_to_end(user.user_id)
        if len(self._users) > self._capacity:
            self._users.popitem(last=False)

    def __len__(self) -> int:
        return len(self._users)
