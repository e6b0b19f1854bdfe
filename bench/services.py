"""The shared services the cluster benchmark needs: Redis, MariaDB and HAProxy.

The cluster figures are measured against the real services of the machine, so
the harness must first say plainly which one is missing rather than fail
half-way through a run. It also reads Redis's own CPU counters (`INFO cpu`),
because Redis is the one shared part every cluster message passes through, and
it cleans up after itself without touching anyone else's data: a fresh MariaDB
database per deployment, dropped at the end, and one Redis namespace per
deployment whose keys alone are deleted (never FLUSHDB: other people's tests
use the same Redis).

The Redis client here is a few lines of RESP over a blocking socket: the
conductor only needs PING, INFO, SCAN and DEL, and the benchmark's venv should
not need a Redis library for that.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bench.procs import cpu_seconds

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_MARIADB = "mysql://root:@127.0.0.1:3306"


class ServiceError(RuntimeError):
    """A service the benchmark needs did not answer; the message says which and how to start it."""


class Redis:
    """One blocking RESP connection to the database a ``redis://`` URL names."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        self.url = url
        self._sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout)
        self._file = self._sock.makefile("rb")
        if parts.password:
            self.call("AUTH", *([unquote(parts.username)] if parts.username else []), unquote(parts.password))
        self.call("SELECT", parts.path.lstrip("/") or "0")

    def __enter__(self) -> Redis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def call(self, *args: str) -> Any:
        """Send one command, return its decoded reply; an error reply raises ServiceError."""
        out = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self) -> Any:
        line = self._file.readline()
        if not line:
            raise ServiceError(f"Redis at {self.url} closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise ServiceError(f"Redis refused: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise ServiceError(f"unexpected Redis reply {line!r}")

    def info(self, section: str) -> dict[str, str]:
        """``INFO section`` as a dict of its ``key:value`` lines."""
        text: str = self.call("INFO", section)
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
        return {k: v for k, v in pairs}

    def delete_namespace(self, namespace: str) -> int:
        """Delete every key under ``namespace:`` (SCAN, then DEL in batches); how many went."""
        deleted, cursor = 0, "0"
        while True:
            cursor, keys = self.call("SCAN", cursor, "MATCH", f"{namespace}:*", "COUNT", "1000")
            if keys:
                deleted += int(self.call("DEL", *keys))
            if cursor == "0":
                return deleted


@dataclass(frozen=True)
class RedisCpu:
    """Redis's CPU counters at one moment (seconds), and the commands it had run.

    ``by_command`` is `INFO commandstats`: per command, (calls, microseconds Redis
    spent executing it), which says where Redis's time per message goes.
    """

    total: float
    main_thread: float | None
    commands: int
    by_command: dict[str, tuple[int, int]]

    @classmethod
    def read(cls, url: str) -> RedisCpu:
        with Redis(url) as r:
            cpu = r.info("cpu")
            stats = r.info("stats")
            commandstats = r.info("commandstats")
        main = None
        if "used_cpu_sys_main_thread" in cpu:
            main = float(cpu["used_cpu_sys_main_thread"]) + float(cpu["used_cpu_user_main_thread"])
        by_command = {}
        for name, text in commandstats.items():
            fields = dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)
            by_command[name.removeprefix("cmdstat_")] = (int(fields["calls"]), int(fields["usec"]))
        return cls(
            total=float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
            main_thread=main,
            commands=int(stats.get("total_commands_processed", "0")),
            by_command=by_command,
        )

    def since(self, before: RedisCpu) -> RedisCpu:
        main = None
        if self.main_thread is not None and before.main_thread is not None:
            main = self.main_thread - before.main_thread
        by_command = {}
        for name, (calls, usec) in self.by_command.items():
            calls0, usec0 = before.by_command.get(name, (0, 0))
            if calls > calls0:
                by_command[name] = (calls - calls0, usec - usec0)
        return RedisCpu(self.total - before.total, main, self.commands - before.commands, by_command)


@dataclass(frozen=True)
class MariaDB:
    """The MariaDB server the deployments use, administered through its command-line client."""

    url: str = DEFAULT_MARIADB

    def _client_argv(self) -> list[str]:
        client = shutil.which("mariadb") or shutil.which("mysql")
        if client is None:
            raise ServiceError("no MariaDB client (mariadb or mysql) on PATH; install mariadb-client")
        parts = urlsplit(self.url)
        argv = [client, f"-h{parts.hostname or '127.0.0.1'}", f"-P{parts.port or 3306}"]
        argv.append(f"-u{unquote(parts.username or 'root')}")
        if parts.password:
            argv.append(f"-p{unquote(parts.password)}")
        return argv

    def run(self, sql: str) -> None:
        result = subprocess.run([*self._client_argv(), "-e", sql], capture_output=True, timeout=30)
        if result.returncode != 0:
            raise ServiceError(f"MariaDB at {self.url}: {result.stderr.decode(errors='replace').strip()}")

    def database_url(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{name}"

    def create(self, name: str) -> str:
        """A fresh, empty database ``name``; its URL for CHAT_DB_URL."""
        self.run(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return self.database_url(name)

    def drop(self, name: str) -> None:
        self.run(f"DROP DATABASE IF EXISTS `{name}`")


def haproxy_binary() -> str | None:
    """HAProxy's path: Debian installs it in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def missing_services(redis_url: str, mariadb: MariaDB, need_haproxy: bool) -> list[str]:
    """One sentence per service that is not there, saying how to get it; empty when all answer."""
    missing = []
    if need_haproxy and haproxy_binary() is None:
        missing.append("HAProxy is not installed (Debian: apt-get install haproxy)")
    try:
        with Redis(redis_url, timeout=3) as r:
            r.call("PING")
    except (OSError, ServiceError) as exc:
        missing.append(
            f"Redis is not answering at {redis_url} ({exc}); start one: "
            "redis-server --daemonize yes --bind 127.0.0.1 --save '' --appendonly no"
        )
    try:
        mariadb.run("SELECT 1")
    except (OSError, subprocess.SubprocessError, ServiceError) as exc:
        missing.append(
            f"MariaDB does not answer ({exc}); start it: "
            "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
        )
    return missing


def cpu_of_program(comm: str) -> float | None:
    """CPU seconds used so far by every process named ``comm`` (e.g. mariadbd), or None if none is readable.

    The database server is shared with whatever else runs on the machine, so this
    is an upper bound on what the benchmark cost it.
    """
    total, found = 0.0, False
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != comm:
                continue
            total += cpu_seconds(int(proc.name))
            found = True
        except OSError:
            continue
    return total if found else None
