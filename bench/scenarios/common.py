"""Pieces every scenario's conductor and worker share."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.procs import cpu_seconds, pin_process
from bench.targets import Target
from bench.worker import ClientSpec, Conn, Fleet, WorkerSpec, split


def content_of(size: int, stamp: str) -> str:
    """A message body of exactly `size` characters starting with `stamp`."""
    return (stamp + " " + "x" * size)[:size] if size > len(stamp) else stamp


async def start_fleet(target: Target, cfg: RunConfig, scenario: str,
                      clients: list[ClientSpec], params: dict[str, Any],
                      workers: int) -> tuple[Fleet, list[Any]]:
    """Spawn the workers, wait until all their clients are connected and joined."""
    specs = [WorkerSpec(scenario, target.kind, w, part, params, cfg.gen_cpus)
             for w, part in enumerate(split(clients, workers)) if part]
    fleet = Fleet(specs)
    try:
        ready = await fleet.gather("ready", limit_s=600)
        quiet_after = await quiesce(target.server.pid)
    except BaseException:
        fleet.close(grace=1)
        raise
    ready.append({"quiesce_seconds": round(quiet_after, 2)})
    return fleet, ready


async def quiesce(pid: int, idle_share: float = 0.10, window: float = 0.5,
                  limit_s: float = 180.0) -> float:
    """Wait until the server spends under `idle_share` of a core, bounded.

    Joining N members to one room makes the server send each member the join
    notices of those who joined after it: N^2/2 `system` frames that our server
    may still be flushing when `joined` has been answered. Measuring before that
    backlog is gone would charge its cost to the scenario.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if (cpu_seconds(pid) - before) / window < idle_share:
            break
    return time.monotonic() - started


@dataclass
class CpuMeter:
    """CPU seconds a server process used between `start()` and `stop()`."""

    pid: int
    started_cpu: float = 0.0
    started_wall: float = 0.0
    cpu: float = 0.0
    wall: float = 0.0

    def start(self) -> None:
        self.started_cpu = cpu_seconds(self.pid)
        self.started_wall = time.monotonic()

    def stop(self) -> None:
        self.cpu = cpu_seconds(self.pid) - self.started_cpu
        self.wall = time.monotonic() - self.started_wall

    @property
    def utilisation(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


def pin_server(target: Target, cfg: RunConfig) -> None:
    """Move every server thread to the server's cores (threads appear lazily)."""
    pin_process(target.server.pid, set(cfg.server_cpus) if cfg.server_cpus else None)


async def wait_until(predicate: Callable[[], bool], limit_s: float,
                     step: float = 0.02) -> bool:
    """Poll `predicate` until true or `limit_s` passed; the bounded wait of every drain."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


def process_cpu() -> float:
    """This process's own CPU seconds (the generator's cost)."""
    return time.process_time()


def all_closed(conns: list[Conn]) -> bool:
    return all(not c.alive for c in conns)


async def clients_in_rooms(target: Target, n: int, size: int,
                           tag: str) -> tuple[list[Any], list[str], list[ClientSpec]]:
    """`n` accounts, `n // size` rooms, and the clients that join them `size` to a room."""
    accounts = await target.accounts(n)
    rooms = await target.rooms(max(1, n // size), tag)
    clients = [ClientSpec(i, a.username, target.ws_url(a), (rooms[i // size % len(rooms)],))
               for i, a in enumerate(accounts)]
    return accounts, rooms, clients


def start_profiler(target: Target, cfg: RunConfig, name: str,
                   seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy on our server for most of the send phase, as collapsed stacks.

    Sampling is blocking (py-spy pauses the server for each sample, ~1% at 200 Hz):
    non-blocking sampling tears stacks apart mid-update and muddles inclusive time.
    """
    if cfg.profile_dir is None or target.name != "ours":
        return None
    spy = Path(sys.executable).parent / "py-spy"
    out = Path(cfg.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(target.server.pid),
         "--duration", str(max(2, int(seconds) - 3)),
         "--rate", "200", "--format", "raw",
         "-o", str(out / f"{name}.collapsed.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.asynccontextmanager
async def measured_run(target: Target, cfg: RunConfig, fleet: Fleet, profile_name: str,
                       seconds: float) -> AsyncIterator[CpuMeter]:
    """Say "go" to the fleet and meter the server's CPU (and profile it) until the block ends."""
    meter = CpuMeter(target.server.pid)
    meter.start()
    fleet.broadcast("go")
    spy = start_profiler(target, cfg, profile_name, seconds)
    yield meter
    meter.stop()
    if spy is not None:
        await asyncio.to_thread(spy.wait, 60)
