"""The rooms each user is in as far as their next login goes, in Trio terms.

One row per (user, room) the user ever joined (:class:`storage.models.RememberedRoomRow`):
``joined`` is what they last asked for, ``changed_at`` when. The writes
come in batches from :class:`actors.joined_rooms.JoinedRooms`, one
transaction each; every write is an upsert that keeps the newer change, so
two processes of a cluster writing at once leave the later one standing
whatever order their transactions commit in.
"""

from __future__ import annotations

import asyncio

from tortoise import Tortoise

from storage.bridge import AsyncioBridge
from storage.dialects import NUL, parameter_marks
from storage.membership import infos
from storage.models import RememberedRoomRow, RoomRow
from wire.shapes import RoomInfo

_COLUMNS = ("id", "user_id", "room_id", "joined", "changed_at")


class RememberedRoomsUnavailable(Exception):
    """The write could not be made (the database is closing); the caller keeps the changes."""


def remembered_row_id(user_id: str, room_id: str) -> str:
    return f"{user_id}:{room_id}"


def newer_wins_upsert(dialect: str) -> str:
    """An insert that, on a row already there, takes the new ``joined`` only if its change is not older."""
    head = (
        f"INSERT INTO remembered_rooms ({', '.join(_COLUMNS)}) "
        f"VALUES ({parameter_marks(dialect, len(_COLUMNS))})"
    )
    if dialect == "mysql":
        # MySQL assigns left to right: joined is decided against the old changed_at, then it moves.
        return (
            f"{head} ON DUPLICATE KEY UPDATE "
            "joined = IF(VALUES(changed_at) >= changed_at, VALUES(joined), joined), "
            "changed_at = GREATEST(changed_at, VALUES(changed_at))"
        )
    return (
        f"{head} ON CONFLICT (id) DO UPDATE SET joined = excluded.joined, changed_at = excluded.changed_at "
        "WHERE excluded.changed_at >= remembered_rooms.changed_at"
    )


class RememberedRooms:
    """Every method crosses the bridge once."""

    def __init__(self, bridge: AsyncioBridge, dialect: str) -> None:
        self._bridge = bridge
        self._upsert = newer_wins_upsert(dialect)

    async def write(self, changes: dict[tuple[str, str], tuple[bool, int]]) -> None:
        """Store ``(user_id, room_id) -> (joined, changed_at ms)`` in one transaction."""
        rows = [
            (remembered_row_id(u, r), u, r, joined, at)
            for (u, r), (joined, at) in changes.items()
            if _storable(u, r)
        ]
        sql = self._upsert

        async def upsert() -> None:
            # Outside a transaction, execute_many opens and commits its own: one for the batch.
            await Tortoise.get_connection("default").execute_many(sql, rows)  # type: ignore[arg-type]

        if not rows:
            return
        try:
            await self._bridge.call(upsert)
        except asyncio.CancelledError:
            # The asyncio side went away under the write (storage closing at shutdown): it did not happen.
            raise RememberedRoomsUnavailable(
                "the database closed before the joined rooms were written"
            ) from None

    async def of_user(self, user_id: str, limit: int) -> tuple[dict[str, int], bool]:
        """The user's ``limit`` newest joined rooms, ``room_id -> changed_at``, and whether they ever joined one."""

        async def query() -> tuple[dict[str, int], bool]:
            rows = await (
                RememberedRoomRow.filter(user_id=user_id, joined=True)
                .order_by("-changed_at", "room_id")
                .limit(limit)
                .values_list("room_id", "changed_at")
            )
            ever = bool(rows) or await RememberedRoomRow.filter(user_id=user_id).exists()
            return {str(r): int(at) for r, at in rows}, ever

        return await self._bridge.call(query)

    async def rooms(self, room_ids: list[str]) -> dict[str, RoomInfo]:
        """The rooms of these ids that exist."""

        async def query() -> list[RoomInfo]:
            return await infos(await RoomRow.filter(id__in=room_ids))  # with their visibility

        found = await self._bridge.call(query) if room_ids else []
        return {room.room_id: room for room in found}


def _storable(user_id: str, room_id: str) -> bool:
    """Ids are ours or a resolved room's: none holds U+0000, which PostgreSQL refuses in a parameter."""
    return NUL not in user_id and NUL not in room_id
