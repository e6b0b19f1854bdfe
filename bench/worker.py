"""Generator worker processes and the pipe protocol between them and the conductor.

A scenario's clients are split round-robin over one or more worker processes (each
its own uvloop, pinned to the generator's cores), so the generator can use more than
one core when it is given more. The conductor (the parent) moves every worker through
the same phases by messages over a pipe: the worker connects and joins, says
`ready`, waits for `go`, runs, reports. Messages are small picklable tuples
`(tag, payload)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.wsclient import ChatConn, SioConn, open_conn

Conn = ChatConn | SioConn


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One generator client: which user, where to connect, which rooms to join."""

    index: int
    username: str
    url: str
    rooms: tuple[str, ...]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs; pickled into it at spawn."""

    scenario: str
    kind: str
    worker_id: int
    clients: list[ClientSpec]
    params: dict[str, Any] = field(default_factory=dict)
    cpus: frozenset[int] | None = None


@contextlib.contextmanager
def _blocking(fd: int) -> Iterator[None]:
    """Blocking mode for one whole message: the loop's reader made the socket
    non-blocking, and a multi-megabyte pickle (latency samples) would otherwise
    fail half-written with EAGAIN."""
    os.set_blocking(fd, True)
    try:
        yield
    finally:
        os.set_blocking(fd, False)


class Channel:
    """An asyncio face on a multiprocessing pipe end (one message per readable event)."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        fd = self._conn.fileno()
        while self._conn.poll():
            try:
                with _blocking(fd):
                    message = self._conn.recv()
            except (EOFError, OSError):
                self._loop.remove_reader(fd)
                self._queue.put_nowait(("eof", None))
                return
            self._queue.put_nowait(message)

    def send(self, tag: str, payload: Any = None) -> None:
        with _blocking(self._conn.fileno()):
            self._conn.send((tag, payload))

    async def recv(self, expect: str | None = None, limit_s: float | None = None) -> Any:
        tag, payload = await asyncio.wait_for(self._queue.get(), limit_s)
        if expect is not None and tag != expect:
            raise RuntimeError(f"expected {expect!r} from the pipe, got {tag!r}: {payload!r}")
        return payload

    async def recv_tagged(self, limit_s: float | None = None) -> tuple[str, Any]:
        return await asyncio.wait_for(self._queue.get(), limit_s)

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._conn.fileno())


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (5000 sockets need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def connect_all(spec: WorkerSpec, concurrency: int = 100,
                      limit_s: float = 60.0) -> list[Conn]:
    """Open every client of this worker and join its rooms, `concurrency` at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def one(c: ClientSpec) -> Conn:
        async with sem:
            conn = await open_conn(spec.kind, c.url, c.index, c.username, limit_s)
            for room in c.rooms:
                await conn.join(room, limit_s)
            return conn

    return list(await asyncio.gather(*(one(c) for c in spec.clients)))


def close_all(conns: list[Conn]) -> None:
    for conn in conns:
        conn.close()


def closed_codes(conns: list[Conn]) -> dict[int, int]:
    """How many connections the server closed, by close code."""
    codes: dict[int, int] = {}
    for conn in conns:
        if conn.closed_code is not None:
            codes[conn.closed_code] = codes.get(conn.closed_code, 0) + 1
    return codes


async def _worker_async(spec: WorkerSpec, pipe: multiprocessing.connection.Connection) -> None:
    chan = Channel(pipe)
    module = importlib.import_module(f"bench.scenarios.{spec.scenario}")
    try:
        await module.work(spec, chan)
    except Exception as exc:  # reported to the conductor, which fails the scenario
        chan.send("failed", f"worker {spec.worker_id}: {type(exc).__name__}: {exc}")
    finally:
        chan.close()


def worker_main(spec: WorkerSpec, pipe: multiprocessing.connection.Connection) -> None:
    """Process entry point: pin, lift limits, run the scenario's worker on uvloop."""
    import uvloop

    if spec.cpus:
        os.sched_setaffinity(0, spec.cpus)
    raise_fd_limit()
    uvloop.run(_worker_async(spec, pipe))


class Fleet:
    """The conductor's handle on a scenario's worker processes."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.channels: list[Channel] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for spec in specs:
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(spec, child_end), daemon=True)
            proc.start()
            child_end.close()
            self.procs.append(proc)
            self.channels.append(Channel(parent_end))

    async def gather(self, tag: str, limit_s: float) -> list[Any]:
        """One `tag` message from every worker; a `failed` report raises."""
        async def one(chan: Channel) -> Any:
            got_tag, payload = await chan.recv_tagged(limit_s)
            if got_tag != tag:
                raise RuntimeError(f"worker said {got_tag!r} instead of {tag!r}: {payload}")
            return payload

        return list(await asyncio.gather(*(one(c) for c in self.channels)))

    def send(self, worker: int, tag: str, payload: Any = None) -> None:
        self.channels[worker].send(tag, payload)

    def broadcast(self, tag: str, payload: Any = None) -> None:
        for chan in self.channels:
            chan.send(tag, payload)

    def close(self, grace: float = 10.0) -> None:
        deadline = time.monotonic() + grace
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        for chan in self.channels:
            chan.close()


def split(clients: list[ClientSpec], workers: int) -> list[list[ClientSpec]]:
    """Round-robin the clients over `workers` processes."""
    return [clients[i::workers] for i in range(max(1, workers))]
