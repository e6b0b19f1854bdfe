"""What the cluster scenarios share: a fleet over several processes, and CPU meters.

A figure of the cluster mode is charged to every process that does its work: the
chat-servers (summed, from /proc), Redis (from its own `INFO cpu`, since it may
not be our process), the balancer when the clients go through it, and the
database server (mariadbd, from /proc when readable). Redis and MariaDB are
shared with whatever else runs on the machine, so their cost is also sampled over
an idle stretch just before each measurement: the report gives the figure as
measured and with that background rate taken off.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.deployment import Deployment
from bench.procs import cpu_seconds
from bench.services import RedisCpu, cpu_of_program
from bench.worker import ClientSpec, Fleet, WorkerSpec, split

IDLE_PROBE_SECONDS = 2.0


def syscalls(pids: list[int]) -> tuple[int, int]:
    """Read and write system calls made so far by `pids`, all threads (/proc/<pid>/io: syscr, syscw).

    Each socket write to a member, and each read of a socket, is one of them:
    how many writes a delivery costs says how well frames are batched.
    """
    reads = writes = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
            reads += int(fields["syscr"])
            writes += int(fields["syscw"])
    return reads, writes


def runs(pids: list[int]) -> dict[int, int]:
    """Per thread of `pids`: how many times it was given a core (/proc/<pid>/task/*/schedstat, third field)."""
    counts = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    counts[int(task.name)] = int((task / "schedstat").read_text().split()[2])
    return counts


def runqueue_wait(pids: list[int]) -> dict[int, float]:
    """Per thread of `pids`: seconds spent runnable but waiting for a core (/proc/<pid>/task/*/schedstat).

    The servers are pinned to one core, which the processes of a cluster share and
    other programs of the machine may also want: this says how much they were held
    back. Per thread, because threads come and go between two readings.
    """
    waits = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    waits[int(task.name)] = int((task / "schedstat").read_text().split()[1]) / 1e9
    return waits


async def quiesce_all(
    pids: list[int], idle_share: float = 0.10, window: float = 0.5, limit_s: float = 240.0
) -> float:
    """Wait until every process uses under `idle_share` of a core (join notices flushed), bounded."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = [cpu_seconds(p) for p in pids]
        await asyncio.sleep(window)
        after = [cpu_seconds(p) for p in pids]
        if all((b - a) / window < idle_share for a, b in zip(before, after, strict=True)):
            break
    return time.monotonic() - started


async def start_fleet(
    deployment: Deployment, cfg: RunConfig, scenario: str, clients: list[ClientSpec], params: dict[str, Any]
) -> tuple[Fleet, float]:
    """Spawn the workers (scenario module `bench.scenarios.<scenario>`), wait until every client is
    connected and joined and every server is quiet again; returns the fleet and the quiet wait."""
    specs = [
        WorkerSpec(scenario, "chat", w, part, params, cfg.gen_cpus)
        for w, part in enumerate(split(clients, cfg.gen_workers))
        if part
    ]
    fleet = Fleet(specs)
    try:
        await fleet.gather("ready", limit_s=600)
        quiet = await quiesce_all(deployment.server_pids)
    except BaseException:
        fleet.close(grace=1)
        raise
    return fleet, quiet


@dataclass
class Snapshot:
    """CPU seconds of every metered process at one moment."""

    wall: float
    servers: list[float]
    servers_waiting: dict[int, float]
    servers_runs: dict[int, int]
    servers_syscalls: tuple[int, int]
    balancer: float | None
    redis: RedisCpu | None
    database: float | None

    @classmethod
    def take(cls, deployment: Deployment) -> Snapshot:
        return cls(
            wall=time.monotonic(),
            servers=[cpu_seconds(p) for p in deployment.server_pids],
            servers_waiting=runqueue_wait(deployment.server_pids),
            servers_runs=runs(deployment.server_pids),
            servers_syscalls=syscalls(deployment.server_pids),
            balancer=cpu_seconds(deployment.balancer.pid) if deployment.balancer else None,
            redis=RedisCpu.read(deployment.redis_url) if deployment.uses_redis else None,
            database=cpu_of_program("mariadbd"),
        )


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


@dataclass
class Usage:
    """CPU used between two snapshots, per process kind, and the idle rates measured before."""

    wall: float = 0.0
    servers: list[float] = field(default_factory=list)
    servers_waiting: float = 0.0
    servers_runs: int = 0
    servers_reads: int = 0
    servers_writes: int = 0
    balancer: float | None = None
    redis: float | None = None
    redis_main: float | None = None
    redis_commands: int | None = None
    redis_by_command: dict[str, tuple[int, int]] = field(default_factory=dict)
    database: float | None = None
    redis_idle_rate: float | None = None
    redis_idle_commands_rate: float | None = None
    database_idle_rate: float | None = None

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot) -> Usage:
        redis = b.redis.since(a.redis) if a.redis and b.redis else None
        return cls(
            wall=b.wall - a.wall,
            servers=[y - x for x, y in zip(a.servers, b.servers, strict=True)],
            servers_waiting=sum(w - a.servers_waiting.get(tid, 0.0) for tid, w in b.servers_waiting.items()),
            servers_runs=sum(n - a.servers_runs.get(tid, 0) for tid, n in b.servers_runs.items()),
            servers_reads=b.servers_syscalls[0] - a.servers_syscalls[0],
            servers_writes=b.servers_syscalls[1] - a.servers_syscalls[1],
            balancer=_delta(b.balancer, a.balancer),
            redis=redis.total if redis else None,
            redis_main=redis.main_thread if redis else None,
            redis_commands=redis.commands if redis else None,
            redis_by_command=redis.by_command if redis else {},
            database=_delta(b.database, a.database),
        )

    @property
    def server_total(self) -> float:
        return sum(self.servers)

    def net(self, used: float | None, idle_rate: float | None) -> float | None:
        """`used` less what the idle rate would have cost over the same wall time."""
        if used is None or idle_rate is None:
            return None
        return max(0.0, used - idle_rate * self.wall)

    def figures(self, per: dict[str, float]) -> dict[str, Any]:
        """CPU utilisations, and µs of each kind of CPU per unit (`per`: unit name -> count)."""
        out: dict[str, Any] = {
            "wall_seconds": round(self.wall, 3),
            "server_cpu_util": round(self.server_total / max(self.wall, 1e-9), 3),
            "server_cpu_util_per_process": [round(s / max(self.wall, 1e-9), 3) for s in self.servers],
            # Time server threads were ready to run but had no core, per second of the run.
            "server_runqueue_wait_share": round(self.servers_waiting / max(self.wall, 1e-9), 3),
        }
        costs: dict[str, float | None] = {
            "server": self.server_total,
            "balancer": self.balancer,
            "redis": self.redis,
            "redis_net": self.net(self.redis, self.redis_idle_rate),
            "redis_main_thread": self.redis_main,
            "database": self.database,
            "database_net": self.net(self.database, self.database_idle_rate),
        }
        for unit, count in per.items():
            out[f"server_runs_per_{unit}"] = self.servers_runs / max(count, 1)
            out[f"server_read_syscalls_per_{unit}"] = self.servers_reads / max(count, 1)
            out[f"server_write_syscalls_per_{unit}"] = self.servers_writes / max(count, 1)
        for kind, used in costs.items():
            if used is None:
                continue
            out[f"{kind}_cpu_util"] = round(used / max(self.wall, 1e-9), 4)
            for unit, count in per.items():
                out[f"{kind}_cpu_us_per_{unit}"] = 1e6 * used / max(count, 1)
        if self.redis_commands is not None:
            out["redis_commands"] = self.redis_commands
            out["redis_idle_cpu_util"] = self.redis_idle_rate
            out["redis_idle_commands_per_s"] = self.redis_idle_commands_rate
            for unit, count in per.items():
                out[f"redis_commands_per_{unit}"] = self.redis_commands / max(count, 1)
            unit, count = next(iter(per.items()))
            # Per command: calls and µs of Redis's execution time per unit (first unit given).
            out[f"redis_by_command_per_{unit}"] = {
                name: {"calls": round(calls / max(count, 1), 3), "us": round(usec / max(count, 1), 2)}
                for name, (calls, usec) in sorted(self.redis_by_command.items(), key=lambda kv: -kv[1][1])
            }
        if self.database is not None:
            out["database_idle_cpu_util"] = self.database_idle_rate
        return out


def start_profilers(
    deployment: Deployment, profile_dir: str | None, name: str
) -> list[subprocess.Popen[bytes]]:
    """py-spy on every chat-server of the deployment until stopped, as collapsed stacks.

    `profile_dir/<mode>-<name>-<process>.collapsed.txt`; read them with
    `python -m bench.profile_top FILE`. Sampling pauses the server for each sample
    (about 1% at 200 Hz), so profiled runs are not the ones whose figures are quoted.
    """
    if profile_dir is None:
        return []
    spy = Path(sys.executable).parent / "py-spy"
    out = Path(profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(node.pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "-o",
                str(out / f"{deployment.mode}-{name}-{node.name}.collapsed.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for node in deployment.nodes
    ]


async def stop_profilers(spies: list[subprocess.Popen[bytes]]) -> None:
    """Ctrl-C each py-spy (it writes its profile then) and wait for it, bounded."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            await asyncio.to_thread(spy.wait, 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)


@contextlib.asynccontextmanager
async def metered(deployment: Deployment, fleet: Fleet, cfg: RunConfig, name: str) -> AsyncIterator[Usage]:
    """Sample the idle rates, say "go", and meter (and maybe profile) every process until the block ends."""
    idle_a = Snapshot.take(deployment)
    await asyncio.sleep(IDLE_PROBE_SECONDS)
    idle = Usage.between(idle_a, Snapshot.take(deployment))
    usage = Usage()
    spies = start_profilers(deployment, cfg.profile_dir, name)
    start = Snapshot.take(deployment)
    fleet.broadcast("go")
    try:
        yield usage
        end = Snapshot.take(deployment)
    finally:
        await stop_profilers(spies)
    measured = Usage.between(start, end)
    usage.__dict__.update(measured.__dict__)
    if idle.redis is not None:
        usage.redis_idle_rate = idle.redis / idle.wall
        usage.redis_idle_commands_rate = (idle.redis_commands or 0) / idle.wall
    if idle.database is not None:
        usage.database_idle_rate = idle.database / idle.wall
