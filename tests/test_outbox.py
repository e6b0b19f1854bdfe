"""A session's outbox (:mod:`actors.outbox`): bounded, flushed in one write, finished in order when the socket is full."""

from __future__ import annotations

import trio
import trio.testing

from actors.client_socket import TransportClosed
from actors.outbox import WRITE_BATCH, Outbox
from wire.events import OutFrame


class ChokingSocket:
    """A client socket whose fast path takes at most ``room`` bytes, and whose ``send`` waits for ``drained``.

    A second implementation of our own :class:`actors.client_socket.ClientSocket`
    (its writing half), standing in for a TCP socket whose buffer is full.
    """

    def __init__(self, room: int = 1 << 30) -> None:
        self.room = room
        self.fast: list[bytes] = []
        self.sent: list[bytes] = []
        self.drained = trio.Event()
        self.drained.set()
        self.gone = False

    @property
    def received(self) -> bytes:
        return b"".join(self.fast) + b"".join(self.sent)

    async def receive(self) -> str | bytes:
        raise TransportClosed("nothing to read")

    def write_now(self, data: bytes) -> int:
        if self.gone:
            raise TransportClosed("client disconnected")
        taken = data[: self.room]
        self.room -= len(taken)
        if taken:
            self.fast.append(taken)
        return len(taken)

    async def send(self, data: bytes) -> None:
        await self.drained.wait()
        if self.gone:
            raise TransportClosed("client disconnected")
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        pass

    async def send_close(self, code: int, reason: str) -> None:
        pass

    async def await_close_reply(self) -> None:
        pass

    def abort(self) -> None:
        self.gone = True


class Owner:
    """What an outbox calls back: the writer's schedule, and its session's close and end."""

    def __init__(self) -> None:
        self.scheduled: list[Outbox] = []
        self.closes: list[tuple[int, str]] = []
        self.gone = 0

    def outbox(self, socket: ChokingSocket, capacity: int = 8) -> Outbox:
        return Outbox(
            "session:alice:1",
            socket,
            capacity,
            schedule=self.scheduled.append,
            on_overflow=lambda code, reason: self.closes.append((code, reason)),
            on_gone=self.on_gone,
        )

    def on_gone(self) -> None:
        self.gone += 1


def frame(n: int) -> OutFrame:
    return OutFrame(b"frame%03d;" % n)


def wires(*ns: int) -> bytes:
    return b"".join(frame(n).wire for n in ns)


def test_a_burst_schedules_the_outbox_once_and_goes_out_in_one_write() -> None:
    owner, socket = Owner(), ChokingSocket()
    outbox = owner.outbox(socket)
    assert all(outbox.put(frame(n)) for n in range(3))
    assert owner.scheduled == [outbox], "scheduled with the writer once for the burst"
    assert outbox.flush() is None
    assert socket.fast == [wires(0, 1, 2)], "one write"
    assert outbox.flush() is None and socket.fast == [wires(0, 1, 2)], "nothing more to write"
    outbox.put(frame(3))
    assert owner.scheduled == [outbox, outbox], "after its turn, the next frame schedules it again"


def test_a_full_outbox_refuses_the_frame_and_asks_its_session_to_close_1013() -> None:
    owner, socket = Owner(), ChokingSocket()
    outbox = owner.outbox(socket, capacity=2)
    assert outbox.put(frame(0)) and outbox.put(frame(1))
    assert outbox.put(frame(2)) is False
    assert owner.closes == [(1013, "outgoing queue overflowed")]
    outbox.flush()
    assert socket.received == wires(0, 1), "what was queued before still goes out"


def test_a_closed_outbox_refuses_frames_without_asking_for_a_close() -> None:
    owner, socket = Owner(), ChokingSocket()
    outbox = owner.outbox(socket)
    outbox.put(frame(0))
    outbox.close()
    assert outbox.put(frame(1)) is False
    assert owner.closes == []
    outbox.flush()
    assert socket.received == wires(0), "frames queued before the close are still written"


def test_a_backlog_longer_than_one_write_batch_is_written_in_batches_across_turns() -> None:
    owner, socket = Owner(), ChokingSocket()
    outbox = owner.outbox(socket, capacity=WRITE_BATCH + 10)
    for n in range(WRITE_BATCH + 10):
        outbox.put(frame(n))
    outbox.flush()
    assert socket.fast == [wires(*range(WRITE_BATCH))]
    assert owner.scheduled == [outbox, outbox], "more waits: it is scheduled for another turn"
    outbox.flush()
    assert socket.fast[1] == wires(*range(WRITE_BATCH, WRITE_BATCH + 10))


async def test_a_write_the_socket_takes_only_part_of_is_finished_before_anything_after_it(
    nursery: trio.Nursery,
) -> None:
    owner, socket = Owner(), ChokingSocket(room=12)
    outbox = owner.outbox(socket)
    outbox.put(frame(0))
    outbox.put(frame(1))
    rest = outbox.flush()
    assert rest == wires(0, 1)[12:] and socket.fast == [wires(0, 1)[:12]]
    socket.drained = trio.Event()  # the socket stays full for now
    socket.room = 1 << 30
    nursery.start_soon(outbox.drain, rest)
    outbox.put(frame(2))
    assert outbox.flush() is None, "while a drain owns the socket, the fast path writes nothing"
    assert socket.fast == [wires(0, 1)[:12]]
    socket.drained.set()
    await trio.testing.wait_all_tasks_blocked()
    assert socket.received == wires(0, 1, 2), "the rest of the write, then what was queued behind it"
    outbox.put(frame(3))
    outbox.flush()
    assert socket.fast[-1] == wires(3), "once drained, the fast path is back"


def test_a_socket_found_gone_on_the_fast_path_ends_the_session() -> None:
    owner, socket = Owner(), ChokingSocket()
    outbox = owner.outbox(socket)
    socket.gone = True
    outbox.put(frame(0))
    assert outbox.flush() is None
    assert owner.gone == 1 and owner.closes == []


async def test_a_socket_found_gone_while_draining_ends_the_session() -> None:
    owner, socket = Owner(), ChokingSocket(room=3)
    outbox = owner.outbox(socket)
    outbox.put(frame(0))
    rest = outbox.flush()
    assert rest is not None
    socket.gone = True
    await outbox.drain(rest)
    assert owner.gone == 1
    outbox.put(frame(1))
    outbox.flush()
    assert owner.gone == 2, "the drain let go of the socket: the next write meets the gone socket itself"


def test_a_crash_while_writing_closes_the_session_with_the_code_given() -> None:
    owner = Owner()
    outbox = owner.outbox(ChokingSocket())
    outbox.crashed(1011, "internal error")
    assert owner.closes == [(1011, "internal error")]
