"""Server processes under test: start, readiness, CPU pinning, memory, stop.

Every server is a real child process started the way production would start it, so
its numbers include the real event loop, logging configuration and HTTP stack. The
harness pins the server and the load generator to different cores once the
(CPU-heavy, argon2) account setup is over, so neither steals the other's core during
a measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


def free_port() -> int:
    """Ask the kernel for a free loopback port (racy, but nothing else runs here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_process(pid: int, cpus: set[int] | None) -> None:
    """Pin every thread of `pid` (not only the main one) to `cpus`.

    Linux affinity is per thread, so a server that already started worker threads
    (argon2 off-loading, SQLite bridges) must have each of them moved.
    """
    if cpus is None:
        return
    tasks = Path(f"/proc/{pid}/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.exists() else [pid]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.sched_setaffinity(tid, cpus)


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB, from /proc (the figure the issue asks for)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User+system CPU time consumed so far by `pid` (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    """One server child process and what is needed to reach it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    health_path: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.log_path.parent,
            start_new_session=True,
        )
        log.close()

    async def wait_ready(self, limit_s: float = 60.0) -> None:
        """Poll the health endpoint until it answers 200, or fail with the log tail."""
        deadline = time.monotonic() + limit_s
        url = self.base_url + self.health_path
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready at {url}; log tail:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode
