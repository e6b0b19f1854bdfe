"""The form in which two room names are compared, and the table that keeps them unique.

Two rooms may not share a name once both are folded: NFKC, then case
folding, then NFKC again (case folding can undo the normalisation), with
white space trimmed at both ends and every run inside turned into one
space. So ``Lobby``, ``lobby``, `` LOBBY `` and ``LOBBY`` in full-width
are one name. The room keeps the name as typed; only the comparison folds.

The database decides, not a check in Python: a room's name is entered in
``room_names`` (:class:`storage.models.RoomNameRow`) in the transaction
that creates the room, under a unique key, so two requests at once (to one
process or to two processes of the cluster sharing the database) cannot
both take one name. The key is a SHA-256 of the folded name rather than the
name itself: 64 ASCII characters whatever the name's length after NFKC
(which can grow a character eighteenfold), compared byte for byte under
any collation (MariaDB's default one would call ``e`` and ``é`` equal).

Rooms made before names were unique are entered by :func:`enter_stored_rooms`
at start-up, oldest first: the oldest room of a name keeps it, a younger
one of the same name keeps working but holds no name (a row without key).
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from storage.membership import enter_private
from storage.models import RoomNameRow, RoomRow, UserRow
from wire.shapes import RoomInfo

log = logging.getLogger(__name__)

_PAGE = 500
_ATTEMPTS = 20  # pages refused because another process entered the same rooms at the same moment

# Letters that draw nothing (Hangul fillers): at the ends of a name they pad it like spaces.
_FILLERS = "\u115f\u1160\u3164"


def fold_room_name(name: str) -> str:
    """The comparable form of a room name: NFKC, case folding, trimmed, inner white space as one space."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split()).strip(_FILLERS + " ")


def room_name_key(name: str) -> str:
    """The unique key of a room name: the SHA-256 of its folded form, in hex."""
    return hashlib.sha256(fold_room_name(name).encode("utf-8", "surrogatepass")).hexdigest()


class RoomQuotaReached(Exception):
    """The account has already created as many rooms as its quota allows."""

    def __init__(self, quota: int) -> None:
        super().__init__(f"quota of {quota} rooms reached")
        self.quota = quota


class RoomNameTaken(Exception):
    """Another room already has this name, once both are folded."""

    def __init__(self, name: str, holder: str | None) -> None:
        super().__init__(f"a room named {name!r} exists")
        self.name = name
        self.holder = holder
        """The id of the room that has the name (None if it could not be read)."""


async def insert_room(room: RoomInfo, created_by: str | None, quota: int | None) -> None:
    """Store ``room`` with its name in one transaction (inside the Tortoise context).

    A private room takes no name: its row in ``room_names`` has no key, so
    it shares its name with any room and nobody learns of it through a
    refused name (:mod:`storage.membership`).

    With ``quota`` the transaction first locks the creator's user row and
    counts their rooms, so concurrent requests of one account cannot both
    take the last place (:class:`RoomQuotaReached`). Then the name's key,
    whose unique index refuses a name another room has (:class:`RoomNameTaken`).
    """
    async with in_transaction() as connection:
        if quota is not None and created_by is not None:
            await UserRow.filter(id=created_by).select_for_update().using_db(connection).first()
            if await RoomRow.filter(created_by=created_by).using_db(connection).count() >= quota:
                raise RoomQuotaReached(quota)
        try:
            key = None if room.private else room_name_key(room.name)
            await RoomNameRow.create(room_id=room.room_id, name_key=key, using_db=connection)
        except IntegrityError:
            raise RoomNameTaken(room.name, None) from None
        await RoomRow.create(
            id=room.room_id,
            name=room.name,
            created_by=created_by,
            created_at=room.created_at,
            using_db=connection,
        )
        if room.private:
            await enter_private(room, created_by, connection)


async def name_holder(name: str) -> str | None:
    """The id of the room that has ``name``, if any."""
    row = await RoomNameRow.filter(name_key=room_name_key(name)).first()
    return None if row is None else row.room_id


@dataclass(frozen=True, slots=True)
class StoredRoom:
    room_id: str
    name: str


@dataclass(frozen=True, slots=True)
class NamePlan:
    """What to store for rooms not yet entered: each room's key, None when an older room holds the name."""

    keys: dict[str, str | None]
    shadowed: list[tuple[StoredRoom, str]]
    """Rooms that hold no name, each with the room that does (for the log)."""


def plan_names(rooms: Iterable[StoredRoom], holders: dict[str, str]) -> NamePlan:
    """Give each room (oldest first) its name's key unless ``holders`` (key -> room id) or an older room has it."""
    held = dict(holders)
    keys: dict[str, str | None] = {}
    shadowed: list[tuple[StoredRoom, str]] = []
    for room in rooms:
        key = room_name_key(room.name)
        holder = held.get(key)
        if holder is None:
            held[key] = room.room_id
            keys[room.room_id] = key
        else:
            keys[room.room_id] = None
            shadowed.append((room, holder))
    return NamePlan(keys, shadowed)


async def enter_stored_rooms() -> int:
    """Enter every room that has no row in ``room_names`` yet, oldest first; how many were entered.

    Runs at start-up inside the Tortoise context. After an upgrade this is
    every room; afterwards only rooms a configuration added, so the scan
    costs one query. Several processes of the cluster may start at once:
    a page that another process entered meanwhile is refused whole by the
    unique keys, and planned again from what is stored then.
    """
    entered = 0
    attempts = 0
    while True:
        pending = (
            await RoomRow.filter(id__not_in=Subquery(RoomNameRow.all().values("room_id")))
            .order_by("created_at", "id")
            .limit(_PAGE)
            .values_list("id", "name")
        )
        if not pending:
            return entered
        rooms = [StoredRoom(str(room_id), str(name)) for room_id, name in pending]
        wanted = sorted({room_name_key(room.name) for room in rooms})
        held = await RoomNameRow.filter(name_key__in=wanted).values_list("name_key", "room_id")
        plan = plan_names(rooms, {str(key): str(room_id) for key, room_id in held})
        try:
            async with in_transaction() as connection:
                await RoomNameRow.bulk_create(
                    [RoomNameRow(room_id=room_id, name_key=key) for room_id, key in plan.keys.items()],
                    using_db=connection,
                )
        except IntegrityError:
            attempts += 1
            if attempts >= _ATTEMPTS:
                raise
            continue
        entered += len(plan.keys)
        if plan.shadowed:
            log.warning(
                "%d rooms share their name with an older room; they keep working, the name stays with "
                "the older one (room held by room: %s)",
                len(plan.shadowed),
                ", ".join(f"{room.room_id} by {holder}" for room, holder in plan.shadowed[:10])
                + (", ..." if len(plan.shadowed) > 10 else ""),
            )
