"""Trio-facing persistence: users, rooms and message history.

Contract: :func:`open_database` opens the asyncio bridge, initialises
Tortoise, creates the schema and yields a ready :class:`Database`; on the
way out it closes the connections (shielded, bounded in time). The
composition root runs it as the ``storage`` actor. Everything here is a
plain Trio coroutine; callers never see asyncio.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import trio
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from storage.bridge import AsyncioBridge, open_bridge
from storage.credentials import Credentials
from storage.dialects import NUL, parameter_marks, storable_text, stored_text
from storage.membership import infos, room_of, visible_to
from storage.models import MessageRow, RoomRow, UserRow
from storage.moderation import ModerationTables
from storage.operators import Operators
from storage.private_files import private_directory, private_file, tighten
from storage.reads import ReadStore, backfill_conversations, conversation_rows
from storage.remembered_rooms import RememberedRooms
from storage.room_names import RoomNameTaken as RoomNameTaken  # raised by create_room, re-exported
from storage.room_names import RoomQuotaReached as RoomQuotaReached
from storage.room_names import enter_stored_rooms, insert_room, name_holder
from storage.schema import generate_schemas
from storage.user_cache import UserCache
from storage.usernames import login_key, login_keys, rekey_users
from storage.usernames import username_key as username_key  # the one comparison key, re-exported
from wire.clock import now_ms
from wire.shapes import RoomInfo, StoredMessage, User

log = logging.getLogger(__name__)

T = TypeVar("T")


class UsernameTaken(Exception):
    pass


def conversation_key(a: str, b: str) -> str:
    return f"{a}:{b}" if a <= b else f"{b}:{a}"


def describe_db_url(db_url: str) -> str:
    """The URL without credentials, for logs."""
    parts = urlsplit(db_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def prepare_sqlite_path(db_url: str) -> None:
    """Make the SQLite file private before Tortoise opens it, so a fresh clone just works.

    A missing folder is created 0700; an existing one is left as it is (it
    may be a shared folder the operator chose). The database file is created
    empty with mode 0600, or tightened to it, and so are a ``-wal``, ``-shm``
    or ``-journal`` file left by an earlier run: SQLite gives the ones it
    creates the database file's permission bits. The path is read the way
    Tortoise reads it (``netloc + path``, without the query string).
    """
    parts = urlsplit(db_url)
    if parts.scheme != "sqlite":
        return
    name = parts.netloc + parts.path
    if not name or name == ":memory:":
        return
    path = Path(name)
    if not path.parent.exists():
        private_directory(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))


class Database:
    """Queries in Trio terms; every method crosses the bridge once."""

    def __init__(self, bridge: AsyncioBridge, dialect: str) -> None:
        self._bridge = bridge
        self.dialect = dialect
        """Tortoise's name for the database: ``sqlite``, ``mysql`` or ``postgres``."""
        self._insert_messages = (
            f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}) "
            f"VALUES ({parameter_marks(dialect, len(_MESSAGE_COLUMNS))})"
        )
        self._user_cache = UserCache()
        self.credentials = Credentials(bridge)
        self.reads = ReadStore(bridge, dialect)
        """Read markers, unread counts and the conversation list (:mod:`storage.reads`)."""
        self.remembered_rooms = RememberedRooms(bridge, dialect)
        """The rooms each user is in at their next login (:mod:`storage.remembered_rooms`)."""
        self.moderation = ModerationTables(bridge, dialect)
        self.operators = Operators(bridge)
        """Rooms' roles, sanctions and moderation log; site administrators and deactivated accounts."""
        """Token generations, logged-out tokens and password changes."""

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run an asyncio coroutine function with Tortoise's connections (data fixes, tests)."""
        return await self._bridge.call(fn)

    # users ---------------------------------------------------------------

    async def create_user(self, username: str, password_hash: str) -> User:
        user = User(user_id=secrets.token_hex(8), username=username)

        async def insert() -> None:
            await UserRow.create(
                id=user.user_id,
                username=username,
                username_key=username_key(username),
                password_hash=password_hash,
                created_at=now_ms(),
            )

        try:
            await self._bridge.call(insert)
        except IntegrityError:
            raise UsernameTaken(username) from None
        self._user_cache.put(user)
        return user

    async def find_login(self, username: str) -> tuple[User, str] | None:
        """The user and password hash for a login name, or None (``storage.usernames.login_key``)."""
        keys = list(login_keys(username))
        if not _findable(*keys):
            return None

        async def query() -> list[UserRow]:
            return await UserRow.filter(username_key__in=keys)

        rows = {row.username_key: row for row in await self._bridge.call(query)}
        row = rows.get(login_key(username, {key: r.username for key, r in rows.items()}) or "")
        if row is None:
            return None
        return User(row.id, row.username), row.password_hash

    async def get_user(self, user_id: str) -> User | None:
        cached = self._user_cache.get(user_id)
        if cached is not None:
            return cached
        if not _findable(user_id):
            return None

        async def query() -> UserRow | None:
            return await UserRow.filter(id=user_id).first()

        row = await self._bridge.call(query)
        if row is None:
            return None
        user = User(row.id, row.username)
        self._user_cache.put(user)
        return user

    # rooms ---------------------------------------------------------------

    async def create_room(
        self, name: str, created_by: str | None, *, quota: int | None = None, private: bool = False
    ) -> RoomInfo:
        """Store a new room; with ``quota``, refuse (:class:`RoomQuotaReached`) once ``created_by`` has that many.

        A name another room has (compared folded) is refused with
        :class:`RoomNameTaken`, by the database in the transaction that would
        store the room (:func:`storage.room_names.insert_room` says how), so
        two requests at once, to any processes sharing it, cannot both have it.
        """
        room = RoomInfo(secrets.token_hex(6), name, now_ms(), "private" if private else "public")
        try:
            await self._bridge.call(insert_room, room, created_by, quota)
        except RoomNameTaken as taken:
            taken.holder = await self._bridge.call(name_holder, name)
            raise
        return room

    async def ensure_room(self, room_id: str, name: str) -> RoomInfo:
        """Create a configured room on first start; keep it as it is afterwards.

        A new one's name is entered like a created room's, so nobody can
        create a room of that name; if a room has it already, both keep
        working and the older one keeps the name (a warning says so).
        """

        async def upsert() -> RoomRow:
            row, _ = await RoomRow.get_or_create(id=room_id, defaults={"name": name, "created_at": now_ms()})
            await enter_stored_rooms()
            return row

        row = await self._bridge.call(upsert)
        return RoomInfo(row.id, row.name, row.created_at)

    async def get_room(self, room_id: str) -> RoomInfo | None:
        if not _findable(room_id):
            return None

        return await self._bridge.call(room_of, room_id)  # with its visibility (storage.membership)

    async def list_rooms(
        self, after: tuple[int, str] | None = None, limit: int | None = None, viewer: str | None = None
    ) -> list[RoomInfo]:
        """Rooms ``viewer`` may see (all public ones; None: only those), in (created_at, id) order, after ``after``.

        Keyset paging: a room created while a client pages through the list
        sorts after every room it has seen, so no page repeats or skips one.
        """

        async def query() -> list[RoomInfo]:
            qs = RoomRow.filter(visible_to(viewer))
            if after is not None:
                created_at, room_id = after
                qs = qs.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=room_id))
            qs = qs.order_by("created_at", "id")
            return await infos(await (qs if limit is None else qs.limit(limit)))

        return await self._bridge.call(query)

    # messages ------------------------------------------------------------

    async def max_message_id(self) -> int:
        async def query() -> int:
            rows = await MessageRow.all().annotate(top=Max("id")).values_list("top", flat=True)
            top = cast("int | None", rows[0]) if rows else None
            return int(top or 0)

        return await self._bridge.call(query)

    async def write_messages(self, messages: list[StoredMessage]) -> None:
        """Store a batch in one transaction: this is the group commit.

        One ``executemany`` of plain tuples: building a Tortoise model per
        message cost more than SQLite's insert itself.
        """
        rows = [
            (
                m.id,
                m.kind,
                m.room_id,
                conversation_key(m.sender.user_id, m.target_id) if m.target_id is not None else None,
                m.sender.user_id,
                m.sender.username,
                m.target_id,
                storable_text(self.dialect, m.content),
                m.timestamp,
            )
            for m in messages
        ]
        sql = self._insert_messages

        conversations = conversation_rows(messages)
        upsert = self.reads.conversation_upsert

        async def insert() -> None:
            if not conversations:
                # Outside a transaction, execute_many opens and commits its own.
                await Tortoise.get_connection("default").execute_many(sql, rows)  # type: ignore[arg-type]
                return
            async with in_transaction() as connection:  # a conversation's newest message, with it
                await connection.execute_many(sql, rows)  # type: ignore[arg-type]
                await connection.execute_many(upsert, conversations)  # type: ignore[arg-type]

        await self._bridge.call(insert)

    async def room_history(self, room_id: str, before: int | None, limit: int) -> list[StoredMessage]:
        return await self._history(Q(room_id=room_id, kind="group"), before, limit)

    async def private_history(self, a: str, b: str, before: int | None, limit: int) -> list[StoredMessage]:
        return await self._history(Q(conversation=conversation_key(a, b), kind="private"), before, limit)

    async def stored_ids(self, ids: list[int]) -> set[int]:
        """The ids among ``ids`` that are stored (the cluster's check on a commit it never heard of)."""

        async def query() -> list[int]:
            return list(await MessageRow.filter(id__in=ids).values_list("id", flat=True))  # type: ignore[arg-type]

        return {int(i) for i in await self._bridge.call(query)} if ids else set()

    async def room_history_since(
        self, room_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        """The newest ``limit`` messages of the room with ``since < id <= upto``, oldest first (recovery)."""
        return await self._history(Q(room_id=room_id, kind="group", id__gt=since), upto + 1, limit)

    async def private_history_since(
        self, user_id: str, since: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        """The newest ``limit`` private messages to or from the user with ``since < id <= upto``, oldest first."""
        where = Q(kind="private", id__gt=since) & (Q(sender_id=user_id) | Q(target_id=user_id))
        return await self._history(where, upto + 1, limit)

    async def _history(self, where: Q, before: int | None, limit: int) -> list[StoredMessage]:
        async def query() -> list[MessageRow]:
            qs = MessageRow.filter(where)
            if before is not None:
                qs = qs.filter(id__lt=before)
            return await qs.order_by("-id").limit(limit)

        rows = await self._bridge.call(query)
        rows.reverse()
        return [_stored(r, self.dialect) for r in rows]


def _findable(*keys: str) -> bool:
    """Whether a stored id or key could equal these: none holds U+0000 (ids are ours, names refuse it).

    Asking would not merely find nothing: PostgreSQL refuses the character
    in a parameter, and a login or a join would fail instead of being told no.
    """
    return not any(NUL in key for key in keys)


def _stored(row: MessageRow, dialect: str) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        timestamp=row.created_at,
        kind="group" if row.kind == "group" else "private",
        sender=User(row.sender_id, row.sender_name),
        content=stored_text(dialect, row.content),
        room_id=row.room_id,
        target_id=row.target_id,
    )


_MESSAGE_COLUMNS = (
    "id",
    "kind",
    "room_id",
    "conversation",
    "sender_id",
    "sender_name",
    "target_id",
    "content",
    "created_at",
)


async def _init_schema(db_url: str) -> tuple[Any, str]:
    """Create what is missing; the Tortoise context and its dialect (``sqlite``, ``mysql``, ``postgres``).

    PostgreSQL needs nothing more: its collations are deterministic unless
    created otherwise, so the unique index on ``username_key`` compares bytes
    as SQLite does, and message ids stay ours (a plain ``BIGINT``, no sequence).
    """
    context = await Tortoise.init(db_url=db_url, modules={"models": ["storage.models"]})
    with context:
        await generate_schemas()  # again, if another process starting at once collided with it
        connection = Tortoise.get_connection("default")
        dialect: str = connection.capabilities.dialect
        if dialect == "sqlite":
            await connection.execute_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        elif dialect == "mysql":
            # Binary collation: uniqueness is decided by username_key alone, exactly as on SQLite.
            await connection.execute_script(
                "ALTER TABLE users MODIFY username_key VARCHAR(128) "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
            )
        for statement in _INDEXES:  # named by us: new and older databases get the same ones
            await connection.execute_script(statement)
        await rekey_users()
        await enter_stored_rooms()  # rooms made before names were unique
        await backfill_conversations(dialect)  # private messages stored before the conversation list
    return context, dialect


_INDEXES = (
    # A user's private messages since a given id (the "sync" command), from either side.
    "CREATE INDEX IF NOT EXISTS messages_by_sender ON messages (sender_id, id)",
    "CREATE INDEX IF NOT EXISTS messages_by_target ON messages (target_id, id)",
)


@asynccontextmanager
async def open_database(db_url: str) -> AsyncIterator[Database]:
    """Open the connections and create the schema; on the way out close them (shielded, bounded)."""
    prepare_sqlite_path(db_url)
    async with open_bridge() as bridge:
        context, dialect = await bridge.call(_init_schema, db_url)
        bridge.bind(context)
        try:
            yield Database(bridge, dialect)
        finally:
            with trio.move_on_after(5, shield=True):
                await bridge.call(Tortoise.close_connections)
