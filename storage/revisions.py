"""Edits and deletes of room messages, in Trio terms, and the history as they leave it.

A change is one transaction: the message's row is read under a row lock
(``SELECT ... FOR UPDATE`` on MariaDB and PostgreSQL; SQLite's file has one
writer, and a room's changes come from its one actor), the room's
``decide`` says whether the change may be made, and then the message's
``content`` is replaced (an edit) or erased to the empty string (a
delete: the text is gone from the row, not hidden), and its
``message_revisions`` row says when and by whom. Two processes of a cluster
changing one message at once therefore take turns, and an edit never
brings back the text of a message deleted meanwhile.

The history reads the revisions of the messages it returns (one indexed
query by primary key) and shows them as :class:`wire.revisions.RevisedMessage`;
posting does nothing more than before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from tortoise.transactions import in_transaction

from storage.dialects import storable_text, stored_text
from storage.interface import HistoryReader, MessageFacts, Revision
from storage.models import MessageRevisionRow, MessageRow
from wire.revisions import RevisedMessage
from wire.shapes import StoredMessage, User

T = TypeVar("T")
R = TypeVar("R")


class Bridged(Protocol):
    """What this needs of :class:`storage.database.Database`: its dialect and a way across the bridge."""

    dialect: str

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T: ...


class RevisionTables:
    def __init__(self, db: Bridged) -> None:
        self._db = db

    async def revise(
        self, revision: Revision, decide: Callable[[MessageFacts | None], R | None]
    ) -> tuple[R | None, MessageFacts | None]:
        """Read the message locked, let ``decide`` refuse, else store the change (see the module's doc)."""
        dialect, message_id = self._db.dialect, revision.message_id

        async def change() -> tuple[R | None, MessageFacts | None]:
            async with in_transaction() as connection:
                messages = MessageRow.filter(id=message_id, kind="group").using_db(connection)
                revisions = MessageRevisionRow.filter(message_id=message_id).using_db(connection)
                if dialect != "sqlite":
                    messages, revisions = messages.select_for_update(), revisions.select_for_update()
                row = await messages.first()
                before = await revisions.first()
                facts = None
                if row is not None:
                    gone = before is not None and before.deleted_at is not None
                    facts = MessageFacts(
                        row.room_id, User(row.sender_id, row.sender_name), row.created_at, gone
                    )
                refused = decide(facts)
                if refused is not None or row is None:
                    return refused, facts
                content = "" if revision.content is None else storable_text(dialect, revision.content)
                await MessageRow.filter(id=message_id).using_db(connection).update(content=content)
                fields: dict[str, Any] = {"changed_at": revision.at} | (
                    {"edited_at": revision.at}
                    if revision.content is not None
                    else {
                        "deleted_at": revision.at,
                        "deleted_by_id": revision.by.user_id,
                        "deleted_by_name": revision.by.username,
                    }
                )
                if before is None:
                    await MessageRevisionRow.create(
                        using_db=connection, message_id=message_id, room_id=row.room_id or "", **fields
                    )
                else:
                    await (
                        MessageRevisionRow.filter(message_id=message_id).using_db(connection).update(**fields)
                    )
                return None, facts

        return await self._db.call(change)

    async def annotate(self, messages: list[StoredMessage]) -> list[StoredMessage]:
        """``messages`` as the history shows them: the edited with ``edited_at``, the deleted as tombstones."""
        ids = [m.id for m in messages if m.kind == "group"]
        if not ids:
            return messages

        async def query() -> list[MessageRevisionRow]:
            return await MessageRevisionRow.filter(message_id__in=ids)

        found = {row.message_id: row for row in await self._db.call(query)}
        if not found:
            return messages
        return [m if m.id not in found else _revised(m, found[m.id]) for m in messages]

    async def changed_since(self, room_id: str, since: int, limit: int) -> list[StoredMessage]:
        """Messages of the room up to id ``since`` changed after it was sent: the newest ``limit`` changes.

        What a client that saw everything up to ``since`` may have missed of
        the older messages; some it may have seen already (changing one twice
        shows the same).
        """

        async def query() -> list[StoredMessage]:
            marks = await MessageRow.filter(id=since).values_list("created_at", flat=True)
            if not marks:
                return []
            mark = marks[0]
            found = (
                await MessageRevisionRow.filter(room_id=room_id, changed_at__gte=mark, message_id__lte=since)
                .order_by("-changed_at")
                .limit(limit)
            )
            rows = {row.message_id: row for row in found}
            messages = await MessageRow.filter(id__in=list(rows)).order_by("id") if rows else []
            return [_revised(_as_stored(m, dialect), rows[m.id]) for m in messages]

        dialect = self._db.dialect
        return await self._db.call(query)


def _as_stored(row: MessageRow, dialect: str) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        timestamp=row.created_at,
        kind="group",
        sender=User(row.sender_id, row.sender_name),
        content=stored_text(dialect, row.content),
        room_id=row.room_id,
    )


def _revised(message: StoredMessage, row: MessageRevisionRow) -> StoredMessage:
    by = None
    if row.deleted_by_id is not None:
        by = User(row.deleted_by_id, row.deleted_by_name or "")
    return RevisedMessage(
        id=message.id,
        timestamp=message.timestamp,
        kind=message.kind,
        sender=message.sender,
        content="" if row.deleted_at is not None else message.content,
        room_id=message.room_id,
        target_id=message.target_id,
        edited_at=None if row.deleted_at is not None else row.edited_at,
        deleted_at=row.deleted_at,
        deleted_by=by,
    )


class RevisedHistory:
    """A :class:`storage.interface.HistoryReader` whose room messages show their edits and deletes (recovery)."""

    def __init__(self, history: HistoryReader, revisions: RevisionTables) -> None:
        self._history = history
        self._revisions = revisions

    async def room_history_since(
        self, room_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        found = await self._history.room_history_since(room_id, since, upto, limit)
        return await self._revisions.annotate(found)

    async def room_changes_since(self, room_id: str, since: int, limit: int) -> list[StoredMessage]:
        return await self._revisions.changed_since(room_id, since, limit)

    async def private_history_since(
        self, user_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        return await self._history.private_history_since(user_id, since, upto, limit)
