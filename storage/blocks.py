"""Block lists in Trio terms: who has blocked whom (:class:`storage.models.UserBlockRow`).

The server reads a user's relations (whom they block, who blocks them) once
and keeps them in memory while the user has a session
(:mod:`actors.block_lists`), so :meth:`BlockTable.relations` runs when a
user first needs them, not for every private message. A block is added in
a transaction that locks the blocker's user row and counts their list, so
requests at once, also to different processes of the cluster, cannot pass
the limit together (as the room quota does, :func:`storage.room_names.insert_room`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from storage.interface import BlockLimitReached
from storage.models import UserBlockRow, UserRow
from storage.usernames import names_by_id
from wire.clock import now_ms
from wire.shapes import User

if TYPE_CHECKING:
    from storage.database import Database


@dataclass(frozen=True, slots=True)
class BlockedUser:
    """An entry of a user's block list: whom, and since when (ms since the epoch)."""

    user: User
    since: int

    def to_wire(self) -> dict[str, object]:
        return {"user": self.user.to_wire(), "since": self.since}


def block_id(blocker_id: str, blocked_id: str) -> str:
    return f"{blocker_id}:{blocked_id}"


class BlockTable:
    """Every method crosses the bridge once. Ids come from users found in the database (no U+0000)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def relations(self, user_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """The ids the user blocks, and the ids of those who block the user."""

        async def query() -> tuple[frozenset[str], frozenset[str]]:
            blocks = await UserBlockRow.filter(blocker_id=user_id).values_list("blocked_id", flat=True)
            blocked_by = await UserBlockRow.filter(blocked_id=user_id).values_list("blocker_id", flat=True)
            return frozenset(str(b) for b in blocks), frozenset(str(b) for b in blocked_by)

        return await self._db.call(query)

    async def add(self, blocker_id: str, blocked_id: str, limit: int) -> tuple[int, bool]:
        """Block; (since when, whether this call added it). :class:`storage.interface.BlockLimitReached` past ``limit``."""
        key = block_id(blocker_id, blocked_id)

        async def insert() -> tuple[int, bool]:
            async with in_transaction() as connection:
                await UserRow.filter(id=blocker_id).select_for_update().using_db(connection).first()
                held = await UserBlockRow.filter(id=key).using_db(connection).first()
                if held is not None:
                    return held.created_at, False
                if await UserBlockRow.filter(blocker_id=blocker_id).using_db(connection).count() >= limit:
                    raise BlockLimitReached(f"a block list holds at most {limit} users")
                now = now_ms()
                await UserBlockRow.create(
                    id=key, blocker_id=blocker_id, blocked_id=blocked_id, created_at=now, using_db=connection
                )
                return now, True

        async def existing() -> UserBlockRow | None:
            return await UserBlockRow.filter(id=key).first()

        try:
            return await self._db.call(insert)
        except IntegrityError:  # the same block, added by a request the lock did not hold back
            held = await self._db.call(existing)
            if held is None:
                raise
            return held.created_at, False

    async def remove(self, blocker_id: str, blocked_id: str) -> bool:
        """Unblock; whether there was a block to remove."""

        async def delete() -> int:
            return await UserBlockRow.filter(id=block_id(blocker_id, blocked_id)).delete()

        return await self._db.call(delete) > 0

    async def page(self, blocker_id: str, after: tuple[int, str] | None, limit: int) -> list[BlockedUser]:
        """The user's list in (since, user id) order: the ``limit`` first entries after the key ``after``."""

        async def query() -> list[BlockedUser]:
            where = Q(blocker_id=blocker_id)
            if after is not None:
                since, user_id = after
                where &= Q(created_at__gt=since) | Q(created_at=since, blocked_id__gt=user_id)
            rows = await (
                UserBlockRow.filter(where)
                .order_by("created_at", "blocked_id")
                .limit(limit)
                .values_list("blocked_id", "created_at")
            )
            ids = [str(i) for i, _ in rows]
            names = await names_by_id(ids)
            return [BlockedUser(User(str(i), str(names.get(i, ""))), int(at)) for i, at in rows]

        return await self._db.call(query)
