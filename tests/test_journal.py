"""The journal (:mod:`actors.journal`): one id counter, group commits, a bound, and a clean close.

Sequencing is tested over :class:`ListStore`, a second implementation of our
own :class:`storage.interface.MessageStore`, whose writes the test can hold
open or make fail. What the database does with a batch is tested over a real
database (a fresh SQLite file, or MariaDB with ``-m mariadb``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from actors.journal import BatchCommit, Journal
from storage.database import Database, open_database
from storage.interface import Commit, CommitFailed, Draft, LogClosed
from wire.shapes import StoredMessage, User

ALICE = User("alice", "alice")


def _draft(content: str, room_id: str = "lobby") -> Draft:
    return Draft(kind="group", sender=ALICE, content=content, room_id=room_id)


class ListStore:
    """A :class:`storage.interface.MessageStore` that keeps each batch in a list.

    Not a mock of the database: a second implementation of our own two-method
    interface. ``hold`` makes writes wait until the test releases them, and
    ``fail_next`` makes the next write raise, as a database would.
    """

    def __init__(self, max_id: int = 0) -> None:
        self.max_id = max_id
        self.batches: list[list[StoredMessage]] = []
        self.writing: list[list[StoredMessage]] = []
        self.hold: trio.Event | None = None
        self.fail_next: Exception | None = None

    async def max_message_id(self) -> int:
        return self.max_id

    async def write_messages(self, messages: list[StoredMessage]) -> None:
        self.writing.append(list(messages))
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.batches.append(list(messages))
        self.max_id = max(self.max_id, messages[-1].id)

    def ids(self) -> list[list[int]]:
        return [[m.id for m in batch] for batch in self.batches]


async def _settled(commit: Commit) -> None:
    """Wait for a commit to settle, but not for ever: a journal that never commits fails the test."""
    with trio.fail_after(10):
        await commit.wait()


async def _running(nursery: trio.Nursery, store: ListStore, *, max_pending: int = 8192) -> Journal:
    journal = await Journal.open(store, max_pending=max_pending)
    await nursery.start(journal.run)
    return journal


async def test_ids_continue_from_the_highest_stored_one(nursery: trio.Nursery) -> None:
    journal = await _running(nursery, ListStore(max_id=41))
    first, _ = await journal.append(_draft("a"))
    second, _ = await journal.append(_draft("b"))
    assert (first.id, second.id) == (42, 43)
    assert journal.last_id == 43
    assert (first.content, first.room_id, first.sender, first.kind) == ("a", "lobby", ALICE, "group")


async def test_messages_appended_before_the_writer_runs_are_one_write_with_one_commit(
    nursery: trio.Nursery,
) -> None:
    store = ListStore()
    journal = await _running(nursery, store)
    appended = [await journal.append(_draft(str(n))) for n in range(5)]
    assert journal.depth == 5
    commits = {id(commit) for _, commit in appended}
    assert len(commits) == 1, "the batch shares one commit"
    await _settled(appended[0][1])
    assert store.ids() == [[1, 2, 3, 4, 5]]
    assert (journal.committed_messages, journal.committed_batches, journal.depth) == (5, 1, 0)


async def test_messages_appended_while_a_write_runs_become_the_next_single_write(
    nursery: trio.Nursery,
) -> None:
    store = ListStore()
    store.hold = trio.Event()
    journal = await _running(nursery, store)
    _, first = await journal.append(_draft("a"))
    await trio.testing.wait_all_tasks_blocked()
    assert [[m.id for m in batch] for batch in store.writing] == [[1]] and journal.depth == 0
    later = [await journal.append(_draft(c)) for c in "bcd"]
    await trio.testing.wait_all_tasks_blocked()
    assert len(store.writing) == 1, "one transaction at a time"
    assert not first.settled and journal.depth == 3
    store.hold.set()
    await _settled(later[-1][1])
    assert store.ids() == [[1], [2, 3, 4]]
    assert first.settled and all(commit is later[0][1] for _, commit in later)
    assert journal.committed_batches == 2


async def test_a_failed_write_fails_its_whole_batch_and_the_journal_carries_on(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    store = ListStore()
    journal = await _running(nursery, store)
    store.fail_next = RuntimeError("disk full")
    lost = [await journal.append(_draft(c)) for c in ("secret one", "secret two")]
    await _settled(lost[0][1])
    for _, commit in lost:
        assert commit.settled
        with pytest.raises(CommitFailed, match="RuntimeError"):
            commit.result()
    kept, commit = await journal.append(_draft("c"))
    await _settled(commit)
    commit.result()
    assert kept.id == 3, "ids are never reused"
    assert store.ids() == [[3]]
    assert (journal.committed_messages, journal.committed_batches) == (1, 1)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "actors.journal"]
    assert len(failures) == 1 and "2 messages" in failures[0].getMessage()
    assert "secret" not in caplog.text, "message content is never logged"


async def test_close_stores_what_is_pending_then_refuses_new_appends(nursery: trio.Nursery) -> None:
    store = ListStore()
    store.hold = trio.Event()
    journal = await _running(nursery, store)
    _, in_flight = await journal.append(_draft("a"))
    await trio.testing.wait_all_tasks_blocked()
    _, pending = await journal.append(_draft("b"))
    journal.close()
    with pytest.raises(LogClosed):
        await journal.append(_draft("too late"))
    flushed = trio.Event()

    async def wait_flushed() -> None:
        await journal.wait_flushed()
        flushed.set()

    nursery.start_soon(wait_flushed)
    await trio.testing.wait_all_tasks_blocked()
    assert not flushed.is_set(), "a write is still in flight"
    store.hold.set()
    with trio.fail_after(5):
        await flushed.wait()
    assert store.ids() == [[1], [2]] and in_flight.settled and pending.settled
    pending.result()


async def test_the_writer_returns_once_closed_and_flushed() -> None:
    store = ListStore()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            journal = await _running(nursery, store)
            await journal.append(_draft("a"))
            journal.close()
    assert store.ids() == [[1]], "the nursery ended: run() returned by itself after the flush"


async def test_an_append_waits_while_the_journal_holds_its_bound_of_uncommitted_messages(
    nursery: trio.Nursery,
) -> None:
    store = ListStore()
    store.hold = trio.Event()
    journal = await _running(nursery, store, max_pending=2)
    await journal.append(_draft("in flight"))
    await trio.testing.wait_all_tasks_blocked()
    await journal.append(_draft("a"))
    await journal.append(_draft("b"))
    third: list[StoredMessage] = []

    async def append_a_third() -> None:
        third.append((await journal.append(_draft("c")))[0])

    nursery.start_soon(append_a_third)
    await trio.testing.wait_all_tasks_blocked()
    assert third == [] and journal.depth == 2, "full: the caller waits, the list does not grow"
    store.hold.set()
    await trio.testing.wait_all_tasks_blocked()
    assert [m.id for m in third] == [4]
    assert store.ids()[:2] == [[1], [2, 3]]


async def test_closing_releases_an_append_waiting_for_room_with_log_closed(nursery: trio.Nursery) -> None:
    store = ListStore()
    store.hold = trio.Event()
    journal = await _running(nursery, store, max_pending=1)
    await journal.append(_draft("in flight"))
    await trio.testing.wait_all_tasks_blocked()
    await journal.append(_draft("pending"))
    refused: list[BaseException] = []

    async def append_one_more() -> None:
        try:
            await journal.append(_draft("waits"))
        except LogClosed as exc:
            refused.append(exc)

    nursery.start_soon(append_one_more)
    await trio.testing.wait_all_tasks_blocked()
    journal.close()
    await trio.testing.wait_all_tasks_blocked()
    assert len(refused) == 1
    store.hold.set()
    with trio.fail_after(5):
        await journal.wait_flushed()
    assert store.ids() == [[1], [2]]


def test_a_batch_commit_reports_its_outcome_once_settled() -> None:
    ok, failed = BatchCommit(), BatchCommit()
    assert not ok.settled and not failed.settled
    ok.succeed()
    failed.fail("IntegrityError")
    assert ok.settled and failed.settled
    ok.result()
    with pytest.raises(CommitFailed, match="IntegrityError"):
        failed.result()


# --- over a real database ----------------------------------------------------


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[str]:
    """The URL of a fresh database, with the schema created."""
    async with open_database(db_url):
        pass
    yield db_url


@asynccontextmanager
async def _journal_over(db_url: str) -> AsyncIterator[tuple[Database, Journal]]:
    """A running journal over a real database; on the way out it is closed, and its writer must return."""
    async with open_database(db_url) as db:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                journal = await Journal.open(db)
                await nursery.start(journal.run)
                yield db, journal
                journal.close()


async def test_a_batch_is_stored_and_reads_back_in_id_order(database: str) -> None:
    async with _journal_over(database) as (db, journal):
        appended = [await journal.append(_draft(f"m{n}")) for n in range(3)]
        appended.append(await journal.append(_draft("elsewhere", room_id="other")))
        await _settled(appended[-1][1])
        appended[-1][1].result()
        assert journal.committed_batches == 1
        history = await db.room_history("lobby", None, 10)
        assert [(m.id, m.content) for m in history] == [(1, "m0"), (2, "m1"), (3, "m2")]
        assert history == [stored for stored, _ in appended[:3]]


async def test_ids_continue_after_a_restart_from_what_the_database_holds(database: str) -> None:
    for content in ("before", "after"):
        async with _journal_over(database) as (_, journal):
            await journal.append(_draft(content))
    async with open_database(database) as db:
        history = await db.room_history("lobby", None, 10)
    assert [(m.id, m.content) for m in history] == [(1, "before"), (2, "after")]


async def test_a_batch_the_database_refuses_is_stored_not_even_in_part_and_the_next_one_is(
    database: str,
) -> None:
    async with _journal_over(database) as (db, journal):
        # Another writer takes id 2 behind the journal's back: the batch 1..3 collides on its second row.
        await db.write_messages([StoredMessage(2, 0, "group", ALICE, "taken", "lobby")])
        batch = [await journal.append(_draft(f"m{n}")) for n in range(1, 4)]
        await _settled(batch[0][1])
        with pytest.raises(CommitFailed):
            batch[0][1].result()
        _, commit = await journal.append(_draft("m4"))
        await _settled(commit)
        commit.result()
        history = await db.room_history("lobby", None, 10)
        assert [(m.id, m.content) for m in history] == [(2, "taken"), (4, "m4")], "1 and 3 went with 2"
