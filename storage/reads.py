"""Read markers and the conversation list, in Trio terms.

Two tables (:mod:`storage.models`) hold "how far has this user read":
``room_reads``, one row per (user, room), and ``conversations``, one row per
(user, peer), which also names the conversation's newest message so that a
user's conversations, newest first, are one range of an index. A marker is
only ever raised: every write is an upsert that keeps the greater value
(``MAX`` on SQLite, ``GREATEST`` elsewhere), so concurrent writers, other
processes of the cluster included, cannot move one back.

Unread counts are bounded: a count stops at :data:`UNREAD_CAP` rows of the
index after the marker (``room_id, id`` or ``conversation, id``), whatever
the history holds; a client shows the cap as "99+".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.expressions import Q
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from storage.bridge import AsyncioBridge
from storage.dialects import NUL, parameter_marks, stored_text
from storage.membership import visible_to
from storage.models import ConversationRow, MessageRow, RoomReadRow, RoomRow
from storage.usernames import names_by_id
from wire.shapes import StoredMessage, User

UNREAD_CAP = 100
"""A count of unread messages stops here: 100 means "100 or more"."""


def conversation_row_id(user_id: str, peer_id: str) -> str:
    return f"{user_id}:{peer_id}"


def _pair_key(a: str, b: str) -> str:
    """The ``messages.conversation`` value of a pair (as :func:`storage.database.conversation_key`)."""
    return f"{a}:{b}" if a <= b else f"{b}:{a}"


@dataclass(frozen=True, slots=True)
class ReadState:
    """Where a user stands in a room or conversation: its newest message id and their stored marker."""

    newest: int
    marker: int


@dataclass(frozen=True, slots=True)
class Conversation:
    """One entry of a user's conversation list."""

    peer: User
    last_message: StoredMessage | None
    last_message_id: int
    last_read: int


def _upsert(dialect: str, table: str, columns: tuple[str, ...], raised: tuple[str, ...]) -> str:
    """An insert that, on a row already there (same ``id``), raises ``raised`` columns to the greater value."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({parameter_marks(dialect, len(columns))})"
    if dialect == "mysql":
        sets = ", ".join(f"{c} = GREATEST({c}, VALUES({c}))" for c in raised)
        return f"{head} ON DUPLICATE KEY UPDATE {sets}"
    greatest = "MAX" if dialect == "sqlite" else "GREATEST"
    sets = ", ".join(f"{c} = {greatest}({table}.{c}, excluded.{c})" for c in raised)
    return f"{head} ON CONFLICT (id) DO UPDATE SET {sets}"


_CONVERSATION_COLUMNS = ("id", "user_id", "peer_id", "last_message_id", "last_read")
_ROOM_READ_COLUMNS = ("id", "user_id", "room_id", "last_read")


def conversation_rows(messages: Iterable[StoredMessage]) -> list[tuple[str, str, str, int, int]]:
    """The ``conversations`` upserts a batch of messages calls for: both sides of each private one.

    The sender's side is marked read up to their own message: sending in a
    conversation means having seen it (as Matrix's implicit receipt), so a
    user's own messages never count as unread and an unread count needs no
    filter on the sender.
    """
    newest: dict[tuple[str, str], tuple[int, int]] = {}
    for m in messages:
        if m.kind != "private" or m.target_id is None:
            continue
        sender, target = m.sender.user_id, m.target_id
        newest[(sender, target)] = (m.id, m.id)
        if target != sender:
            read = newest.get((target, sender), (0, 0))[1]
            newest[(target, sender)] = (m.id, read)
    return [(conversation_row_id(u, p), u, p, last, read) for (u, p), (last, read) in newest.items()]


class ReadStore:
    """Read markers and conversations; every method crosses the bridge once."""

    def __init__(self, bridge: AsyncioBridge, dialect: str) -> None:
        self._bridge = bridge
        self._dialect = dialect
        self.conversation_upsert = _upsert(
            dialect, "conversations", _CONVERSATION_COLUMNS, ("last_message_id", "last_read")
        )
        """Run by the group commit with :func:`conversation_rows`, in the transaction of the messages."""
        key, after = parameter_marks(dialect, 2).split(", ")
        # Plain SQL: the count of at most UNREAD_CAP index entries, without building a row for each.
        self._count_room = (
            f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages WHERE room_id = {key} AND kind = 'group' "
            f"AND id > {after} LIMIT {UNREAD_CAP}) AS w"
        )
        self._count_peer = (
            f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages WHERE conversation = {key} AND kind = 'private' "
            f"AND id > {after} LIMIT {UNREAD_CAP}) AS w"
        )
        self._room_read_upsert = _upsert(dialect, "room_reads", _ROOM_READ_COLUMNS, ("last_read",))
        greatest = "MAX" if dialect == "sqlite" else "GREATEST"
        first, second = parameter_marks(dialect, 2).split(", ")
        self._peer_read_raise = (
            f"UPDATE conversations SET last_read = {greatest}(last_read, {first}) WHERE id = {second}"
        )

    async def room_state(self, user_id: str, room_id: str) -> ReadState | None:
        """The room's newest message id and the user's marker in it; None when there is no such room.

        A private room the user is not a member of is no such room (:mod:`storage.membership`).
        """
        if NUL in room_id:
            return None

        async def query() -> ReadState | None:
            if not await RoomRow.filter(Q(id=room_id) & visible_to(user_id)).exists():
                return None
            top = (
                await MessageRow.filter(room_id=room_id, kind="group").annotate(m=Max("id")).values_list("m")
            )
            row = await RoomReadRow.filter(id=conversation_row_id(user_id, room_id)).first()
            return ReadState(_int(top), 0 if row is None else int(row.last_read))

        return await self._bridge.call(query)

    async def peer_state(self, user_id: str, peer_id: str) -> ReadState:
        """The conversation's newest message id (0: none yet) and the user's marker in it."""

        async def query() -> ReadState:
            row = await ConversationRow.filter(id=conversation_row_id(user_id, peer_id)).first()
            return ReadState(0, 0) if row is None else ReadState(int(row.last_message_id), int(row.last_read))

        return await self._bridge.call(query)

    async def write_markers(
        self, rooms: dict[tuple[str, str], int], peers: dict[tuple[str, str], int]
    ) -> None:
        """Raise markers, in one transaction: ``(user_id, room_id) -> id`` and ``(user_id, peer_id) -> id``.

        A peer marker only raises the ``last_read`` of a conversation row that
        exists (one with a message): it never creates a conversation.
        """
        room_rows = [(conversation_row_id(u, r), u, r, up_to) for (u, r), up_to in rooms.items()]
        peer_rows = [(up_to, conversation_row_id(u, p)) for (u, p), up_to in peers.items()]
        room_sql, peer_sql = self._room_read_upsert, self._peer_read_raise

        async def write() -> None:
            async with in_transaction() as tx:
                if room_rows:
                    await tx.execute_many(room_sql, room_rows)  # type: ignore[arg-type]
                if peer_rows:
                    await tx.execute_many(peer_sql, peer_rows)  # type: ignore[arg-type]

        await self._bridge.call(write)

    async def room_markers(self, user_id: str, room_ids: list[str] | None, limit: int) -> dict[str, int]:
        """The user's markers in ``room_ids`` (those the user has); None: their marked rooms, at most ``limit``."""

        async def query() -> list[tuple[str, int]]:
            qs = RoomReadRow.filter(user_id=user_id)
            if room_ids is not None:
                qs = qs.filter(room_id__in=room_ids)
            rows = await qs.order_by("room_id").limit(limit).values_list("room_id", "last_read")
            return [(str(r), int(n)) for r, n in rows]

        return dict(await self._bridge.call(query))

    async def peer_markers(self, user_id: str, peer_ids: list[str]) -> dict[str, tuple[int, int]]:
        """``peer_id -> (last_message_id, last_read)`` for the user's conversations with ``peer_ids``."""

        async def query() -> list[tuple[str, int, int]]:
            rows = await ConversationRow.filter(user_id=user_id, peer_id__in=peer_ids).values_list(
                "peer_id", "last_message_id", "last_read"
            )
            return [(str(p), int(m), int(r)) for p, m, r in rows]

        return {p: (m, r) for p, m, r in await self._bridge.call(query)} if peer_ids else {}

    async def unread_counts(
        self, rooms: dict[str, int], conversations: dict[str, int], user_id: str
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Messages after each marker, up to :data:`UNREAD_CAP`: ``room_id -> n`` and ``peer_id -> n``.

        A room counts every message after the marker, the user's own too
        (clients mark a room read as they show it); a conversation counts the
        peer's only, since sending moves the sender's marker. Each count reads
        at most the cap's worth of index entries.
        """

        room_sql, peer_sql = self._count_room, self._count_peer

        async def count(connection: Any, sql: str, key: str, marker: int) -> int:
            _, rows = await connection.execute_query(sql, [key, marker])
            return int(rows[0]["n"]) if rows else 0

        async def query() -> tuple[dict[str, int], dict[str, int]]:
            connection = Tortoise.get_connection("default")
            room_counts = {r: await count(connection, room_sql, r, m) for r, m in rooms.items()}
            peer_counts = {
                p: await count(connection, peer_sql, _pair_key(user_id, p), m)
                for p, m in conversations.items()
            }
            return room_counts, peer_counts

        return await self._bridge.call(query)

    async def conversations(
        self, user_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[Conversation]:
        """The user's conversations, newest message first: the ``limit`` after the key ``after``.

        The key is ``(last_message_id, peer_id)``, walked downwards: a
        conversation that gets a message while a client pages moves to the
        front, where the client's live updates show it.
        """
        dialect = self._dialect

        async def query() -> list[Conversation]:
            qs = ConversationRow.filter(user_id=user_id)
            if after is not None:
                last, peer = after
                qs = qs.filter(Q(last_message_id__lt=last) | Q(last_message_id=last, peer_id__lt=peer))
            rows = await qs.order_by("-last_message_id", "-peer_id").limit(limit)
            if not rows:
                return []
            ids = [int(r.last_message_id) for r in rows]
            messages = {int(m.id): m for m in await MessageRow.filter(id__in=ids)}
            names = await names_by_id(r.peer_id for r in rows)
            out = []
            for r in rows:
                found = messages.get(int(r.last_message_id))
                out.append(
                    Conversation(
                        peer=User(r.peer_id, str(names.get(r.peer_id, ""))),
                        last_message=None if found is None else _message(found, dialect),
                        last_message_id=int(r.last_message_id),
                        last_read=int(r.last_read),
                    )
                )
            return out

        return await self._bridge.call(query)


def _int(rows: Any) -> int:
    """The one value of an aggregate's ``values_list``, 0 for NULL."""
    if not rows:
        return 0
    value = rows[0][0] if isinstance(rows[0], tuple) else rows[0]
    return int(value or 0)


def _message(row: MessageRow, dialect: str) -> StoredMessage:
    return StoredMessage(
        id=int(row.id),
        timestamp=int(row.created_at),
        kind="group" if row.kind == "group" else "private",
        sender=User(row.sender_id, row.sender_name),
        content=stored_text(dialect, row.content),
        room_id=row.room_id,
        target_id=row.target_id,
    )


async def backfill_conversations(dialect: str) -> int:
    """Build the conversation rows of a database made before they existed; how many were written.

    Runs at start-up and does nothing once any row exists (or no private
    message does). The upsert keeps the greater values, so processes of a
    cluster starting together may all run it.
    """
    if await ConversationRow.all().limit(1).exists():
        return 0
    if not await MessageRow.filter(target_id__isnull=False).limit(1).exists():
        return 0
    pairs = (
        await MessageRow.filter(kind="private")
        .group_by("conversation")
        .annotate(top=Max("id"))
        .values_list("conversation", "top")
    )
    rows: list[tuple[str, str, str, int, int]] = []
    for key, top in pairs:
        a, _, b = str(key).partition(":")
        rows.append((conversation_row_id(a, b), a, b, int(top), 0))
        if a != b:
            rows.append((conversation_row_id(b, a), b, a, int(top), 0))
    sql = _upsert(dialect, "conversations", _CONVERSATION_COLUMNS, ("last_message_id", "last_read"))
    if rows:
        await Tortoise.get_connection("default").execute_many(sql, rows)  # type: ignore[arg-type]
    return len(rows)
