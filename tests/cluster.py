"""A cluster for tests: real ``chat-server`` processes behind a real HAProxy.

docs/cluster.md's cluster mode is several processes sharing one database
and one Redis behind a round-robin balancer; its tests need exactly that,
so this harness starts it: N processes (``subprocess``, as an operator runs
``chat-server``) on free ports, each with its own data directory and log
file but the same ``CHAT_DB_URL``, ``CHAT_REDIS_URL`` and JWT secret, then
HAProxy in front of them with the configuration ``scripts/cluster.sh``
uses (``scripts/haproxy_config.py``), on its own free port.

A test uses it through the fixtures below (conftest.py loads this module
as a plugin)::

    async def test_something(start_cluster: StartCluster) -> None:
        cluster = await start_cluster(2)
        cluster.http, cluster.ws_url       # the balancer
        cluster.nodes[0].url               # one process directly
        await cluster.kill(1)              # SIGKILL
        await cluster.terminate(0)         # SIGTERM, returns the exit status
        await cluster.restart(1)           # again on its port, healthy and UP in HAProxy

or, where a test needs its own settings, ``async with open_cluster(...)``.
Everything stops when the test ends, passed or failed: HAProxy and every
process get SIGTERM, then SIGKILL after a timeout. A failed test's report
shows the end of every process's log and HAProxy's.

Services: the database is a fresh MariaDB or PostgreSQL database per test
(as ``db_url`` in conftest.py makes them; ``cluster_db_url`` runs a test on
both unless the test parametrizes it), dropped afterwards. Redis is
database 15 of 127.0.0.1:6379, emptied before and after each test, and each
cluster has its own ``CHAT_REDIS_NAMESPACE`` (pub/sub channels are shared by
all Redis databases). A missing Redis, HAProxy or database skips the test
with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import secrets
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from tests.conftest import (
    MARIADB,
    POSTGRES,
    _mariadb,
    _postgres,
    drop_later,
    require_mariadb,
    require_postgres,
)

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-c", "from web.server import main; main()"]
REDIS_URL = "redis://127.0.0.1:6379/15"
RUN_PREFIX = f"test{secrets.token_hex(3)}"
"""Begins every Redis namespace this pytest process makes: the redis_url fixture
cleans up after its own tests without touching another run's keys."""
STOP_TIMEOUT = 10.0  # the server's own graceful shutdown takes up to server.shutdown_timeout (8 s)
START_TIMEOUT = 30.0


def fresh_namespace() -> str:
    """A Redis namespace for one cluster: its keys and channels, no one else's."""
    return f"{RUN_PREFIX}-{secrets.token_hex(4)}"


def _load_haproxy_config() -> ModuleType:
    """``scripts/haproxy_config.py``, which is a script (``scripts/`` is not a package)."""
    path = ROOT / "scripts" / "haproxy_config.py"
    spec = importlib.util.spec_from_file_location("haproxy_config", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


haproxy_config = _load_haproxy_config()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def haproxy_binary() -> str | None:
    """HAProxy's path: Debian installs it in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def redis_command(url: str, *command: str) -> list[bytes] | None:
    """Run inline commands on the database ``url`` names; their one-line replies, or None if Redis does not answer.

    Raw RESP over a socket: the harness needs no Redis client of its own.
    """
    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "0"
    lines = [f"SELECT {database}", *command]
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=5) as s:
            s.sendall("".join(f"{line}\r\n" for line in lines).encode())
            replies = b""
            while replies.count(b"\r\n") < len(lines):
                chunk = s.recv(4096)
                if not chunk:
                    return None
                replies += chunk
    except OSError:
        return None
    answers = replies.split(b"\r\n")[: len(lines)]
    return None if any(a.startswith(b"-") for a in answers) else answers[1:]


def free_port() -> int:
    """A port nothing listens on now (another process may take it before ours binds it: rare, and loud)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_file(path: Path) -> IO[bytes]:
    # Not in the async code: opening a local file for a child's output does not block for long.
    return path.open("ab")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ClusterError(RuntimeError):
    """A process or HAProxy did not come up; the message holds the end of its log."""


@dataclass
class Node:
    """One ``chat-server`` process: its port, data directory and log survive a restart."""

    index: int
    port: int
    env: dict[str, str]
    log_path: Path
    process: trio.Process | None = None

    @property
    def name(self) -> str:
        """Its server name in HAProxy's log and statistics."""
        return str(haproxy_config.server_name(self.index))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def log(self) -> str:
        """Everything the process (and its earlier runs) wrote to stderr and stdout."""
        return self.log_path.read_text(errors="replace")

    async def start(self) -> None:
        with _log_file(self.log_path) as log:
            self.process = await trio.lowlevel.open_process(COMMAND, env=self.env, stdout=log, stderr=log)

    async def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Poll ``/healthz`` until it answers 200: the process has no event a test could wait on."""
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            with trio.move_on_after(timeout):
                while True:
                    if not self.running:
                        raise ClusterError(f"{self.name} exited while starting:\n{_tail(self.log_path)}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/healthz")).status_code == 200:
                            return
                    await trio.sleep(0.05)
        raise ClusterError(f"{self.name} not healthy after {timeout} s:\n{_tail(self.log_path)}")


async def _stop(process: trio.Process | None, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM, then SIGKILL once ``timeout`` has passed; the exit status."""
    if process is None:
        return None
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(timeout):
            return await process.wait()
        process.kill()
    return await process.wait()


@dataclass
class Cluster:
    """Running processes and the balancer in front of them."""

    run_dir: Path
    nodes: list[Node]
    balancer_port: int
    balancer: trio.Process | None = None

    @property
    def http(self) -> str:
        """The balancer's base URL: what users open."""
        return f"http://127.0.0.1:{self.balancer_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.balancer_port}/ws"

    @property
    def balancer_log(self) -> Path:
        return self.run_dir / "haproxy.log"

    @property
    def stats_socket(self) -> Path:
        return self.run_dir / "haproxy.sock"

    async def start_balancer(self, haproxy: str, check_interval_ms: int) -> None:
        text = haproxy_config.render(
            f"127.0.0.1:{self.balancer_port}",
            [f"127.0.0.1:{node.port}" for node in self.nodes],
            stats_socket=str(self.stats_socket),
            check_interval_ms=check_interval_ms,
            rise=1,
        )
        config = self.run_dir / "haproxy.cfg"
        await trio.Path(config).write_text(text)
        with _log_file(self.balancer_log) as log:
            self.balancer = await trio.lowlevel.open_process(
                [haproxy, "-f", str(config)], stdout=log, stderr=log
            )
        for node in self.nodes:
            await self.wait_status(node.index, "UP")

    async def statuses(self) -> dict[str, str]:
        """Each process's state as HAProxy's health checks see it (``UP``, ``DOWN``, ``UP 1/2``...), by name."""
        stream = await trio.open_unix_socket(str(self.stats_socket))
        async with stream:
            await stream.send_all(b"show stat\n")
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
        rows = csv.DictReader(data.decode().removeprefix("# ").splitlines())
        backend = haproxy_config.BACKEND
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == backend and row["svname"] != "BACKEND"
        }

    async def wait_status(self, index: int, status: str, timeout: float = START_TIMEOUT) -> float:
        """Wait until HAProxy reports process ``index`` as ``status``; the seconds it took.

        HAProxy is another process: its state is polled, on the real clock.
        """
        name, start = self.nodes[index].name, trio.current_time()
        with trio.move_on_after(timeout):
            while True:
                if self.balancer is None or self.balancer.returncode is not None:
                    raise ClusterError(f"HAProxy is not running:\n{_tail(self.balancer_log)}")
                with contextlib.suppress(OSError):
                    if (await self.statuses()).get(name) == status:
                        return trio.current_time() - start
                await trio.sleep(0.05)
        raise ClusterError(f"HAProxy did not report {name} {status} within {timeout} s")

    async def kill(self, index: int) -> None:
        """SIGKILL: the process dies without a word, as on a crash or an OOM kill."""
        process = self.nodes[index].process
        assert process is not None and process.returncode is None, "not running"
        process.kill()
        await process.wait()

    async def terminate(self, index: int, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, as an orchestrator stops a process; its exit status (fails if it outlives ``timeout``)."""
        process = self.nodes[index].process
        assert process is not None and process.returncode is None, "not running"
        process.terminate()
        with trio.fail_after(timeout):
            return await process.wait()

    async def restart(self, index: int) -> None:
        """Start process ``index`` again on its port (stopping it first if it runs), until HAProxy has it UP."""
        node = self.nodes[index]
        await _stop(node.process)
        await node.start()
        await node.wait_healthy()
        await self.wait_status(index, "UP")

    async def close(self) -> None:
        """Stop the balancer, then every process; never raises, never waits longer than the stop timeout."""
        await _stop(self.balancer)
        async with trio.open_nursery() as nursery:
            for node in self.nodes:
                nursery.start_soon(_stop, node.process)

    def print_logs(self) -> None:
        for node in self.nodes:
            print(f"----- {node.name} ({node.url}): {node.log_path}\n{_tail(node.log_path)}")
        print(f"----- HAProxy: {self.balancer_log}\n{_tail(self.balancer_log)}")


@contextlib.asynccontextmanager
async def open_cluster(
    run_dir: Path,
    processes: int,
    *,
    db_url: str,
    redis_url: str,
    haproxy: str,
    jwt_secret: str | None = None,
    env: Mapping[str, str] | None = None,
    check_interval_ms: int = 200,
) -> AsyncIterator[Cluster]:
    """Start ``processes`` servers and HAProxy; stop them all on the way out, whatever happened.

    The first process starts alone, so that it creates the schema; the
    others start together once it is healthy. ``env`` adds settings
    (``CHAT_*``) to every process; the caller's own ``CHAT_*`` variables are
    not passed on. Each cluster gets its own Redis namespace, so that two
    clusters on one Redis never hear each other's channels.
    """
    await trio.Path(run_dir).mkdir(parents=True, exist_ok=True)
    balancer_port = free_port()
    common = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    common.update(
        CHAT_HOST="127.0.0.1",
        CHAT_DB_URL=db_url,
        CHAT_REDIS_URL=redis_url,
        CHAT_REDIS_NAMESPACE=fresh_namespace(),  # this cluster's keys and channels only
        CHAT_JWT_SECRET=jwt_secret or secrets.token_urlsafe(48),
        CHAT_PUBLIC_ORIGIN=f"http://127.0.0.1:{balancer_port}",
        CHAT_TRUSTED_PROXIES="127.0.0.1",
        CHAT_LOG_FORMAT="json",
        **(env or {}),
    )
    nodes = []
    for index in range(processes):
        port = free_port()
        node_env = {**common, "CHAT_PORT": str(port), "CHAT_DATA_DIR": str(run_dir / f"chat{index}")}
        nodes.append(Node(index, port, node_env, run_dir / f"chat{index}.log"))
    cluster = Cluster(run_dir, nodes, balancer_port)
    failed = True
    try:
        await nodes[0].start()
        await nodes[0].wait_healthy()
        async with trio.open_nursery() as nursery:
            for node in nodes[1:]:
                nursery.start_soon(_start_healthy, node)
        await cluster.start_balancer(haproxy, check_interval_ms)
        yield cluster
        failed = False
    finally:
        with trio.CancelScope(shield=True):
            await cluster.close()
        if failed:
            cluster.print_logs()


async def _start_healthy(node: Node) -> None:
    await node.start()
    await node.wait_healthy()


StartCluster = Callable[..., Awaitable[Cluster]]
MARIADB_PARAM = pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb")
POSTGRES_PARAM = pytest.param("postgres", marks=pytest.mark.postgres, id="postgres")
ON_MARIADB = pytest.mark.parametrize("cluster_db_url", [MARIADB_PARAM], indirect=True)
ON_POSTGRES = pytest.mark.parametrize("cluster_db_url", [POSTGRES_PARAM], indirect=True)
"""For a test of what processes and Redis do, which the database only stores: one database proves
it. The suite's process tests are dealt out over the two, so that each database meets half of them and
the suite does not start every cluster twice."""


@pytest.fixture(params=[MARIADB_PARAM, POSTGRES_PARAM])
def cluster_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for the whole cluster, dropped afterwards: every process shares it.

    Marked ``mariadb`` or ``postgres`` as well as ``cluster``: scripts/test.sh
    runs each database's cluster tests in a pytest process of its own, since
    Tortoise (in servers started in the test's process) serves one dialect a
    process. A test that picks one database parametrizes this fixture with
    ``MARIADB_PARAM`` or ``POSTGRES_PARAM``, so that it keeps the mark.
    """
    name = f"chat_cluster_{secrets.token_hex(4)}"
    if request.param == "postgres":
        require_postgres()
        assert _postgres(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        yield POSTGRES.format(db=name)
        drop_later(_postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return
    require_mariadb()
    assert _mariadb(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield MARIADB.format(db=name)
    drop_later(_mariadb, f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 15; the test's namespaces are deleted after it.

    Not FLUSHDB: other test processes (the other database's cluster tests, a
    developer's second run) may be using the same database at the same time.
    """
    if redis_command(REDIS_URL, "PING") is None:
        _unavailable(
            "Redis is not answering at 127.0.0.1:6379 "
            "(start it: redis-server --daemonize yes --bind 127.0.0.1 --save '' --appendonly no)"
        )
    yield REDIS_URL
    forget = "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end return 0"
    redis_command(REDIS_URL, f'EVAL "{forget}" 0 {RUN_PREFIX}-*')


@pytest.fixture
def haproxy() -> str:
    path = haproxy_binary()
    if path is None:
        _unavailable("HAProxy is not installed (apt-get install haproxy)")
    assert path is not None
    return path


CLUSTERS = pytest.StashKey[list[Cluster]]()


@pytest.fixture
async def start_cluster(
    request: pytest.FixtureRequest, tmp_path: Path, cluster_db_url: str, redis_url: str, haproxy: str
) -> AsyncIterator[StartCluster]:
    """``await start_cluster(n, **open_cluster_options)``: a running cluster, stopped when the test ends.

    ``redis_url`` may be given, for a test that runs a Redis of its own (to stop and start it).
    """
    clusters = request.node.stash.setdefault(CLUSTERS, [])
    async with contextlib.AsyncExitStack() as stack:

        async def start(processes: int, **options: Any) -> Cluster:
            run_dir = tmp_path / f"cluster{len(clusters)}"
            options.setdefault("redis_url", redis_url)
            cluster = await stack.enter_async_context(
                open_cluster(run_dir, processes, db_url=cluster_db_url, haproxy=haproxy, **options)
            )
            clusters.append(cluster)
            return cluster

        yield start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test's report shows what each process of its clusters, and HAProxy, last logged."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for cluster in item.stash.get(CLUSTERS, []):
        for node in cluster.nodes:
            report.sections.append((f"{node.name} log ({node.log_path})", _tail(node.log_path)))
        report.sections.append((f"HAProxy log ({cluster.balancer_log})", _tail(cluster.balancer_log)))
