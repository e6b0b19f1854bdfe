"""A deployment under test: one `chat-server`, or a cluster of them behind HAProxy.

Both shapes run on the same kind of database (a fresh MariaDB database each, dropped
at the end), so the only difference the figures see is the cluster mode itself:

- **single**: one `chat-server` process, `CHAT_DB_URL` on MariaDB, no Redis: the
  default mode, on the database a cluster needs;
- **cluster**: `scripts/cluster.sh N --detach` (the documented way to run a cluster),
  which starts N processes sharing the database and Redis, and HAProxy round robin in
  front of them. The benchmark gives it a Redis namespace of its own
  (`CHAT_REDIS_NAMESPACE`), and deletes that namespace's keys at the end.

The scenarios reach each process directly (`ws_url(account, node=i)`: the fan-out
splits a room's members over the processes) or through the balancer (`node=None`:
the chatty rooms land wherever round robin puts them). Every process a deployment
starts is stopped by `close()`, which is idempotent and synchronous so that it also
runs from a `finally` after Ctrl-C; `close_all()` stops whatever is still open.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import accounts
from bench.accounts import Account, SetupStats
from bench.procs import ServerProcess, free_port, pin_process
from bench.services import MariaDB, Redis, haproxy_binary
from bench.targets import ROOT, ours_argv

CLUSTER_SH = ROOT / "scripts" / "cluster.sh"
_OPEN: list[Deployment] = []


@dataclass(frozen=True)
class Node:
    """One running process the benchmark measures: a chat-server or the balancer."""

    name: str
    pid: int
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _server_env(db_url: str) -> dict[str, str]:
    """The environment every chat-server of the benchmark gets (the harness's own settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.pop("PYTHONPATH", None)
    env.update(
        {
            "CHAT_DB_URL": db_url,
            "CHAT_LOG_LEVEL": "WARNING",
            "CHAT_LOG_FORMAT": "json",
            # Thousands of registrations from one address (README "Configuration").
            "CHAT_RATE_LIMIT": "false",
        }
    )
    return env


def _port_of(pid: int) -> int:
    """A process's CHAT_PORT, read from its environment (what cluster.sh gave it)."""
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if item.startswith(b"CHAT_PORT="):
            return int(item.split(b"=", 1)[1])
    raise RuntimeError(f"process {pid} has no CHAT_PORT")


@dataclass
class Deployment:
    """One deployment's processes, database and Redis namespace, and the accounts made on it."""

    mode: str
    processes: int
    workdir: Path
    mariadb: MariaDB
    redis_url: str
    db_name: str = field(default_factory=lambda: f"chat_bench_{secrets.token_hex(4)}")
    namespace: str = field(default_factory=lambda: f"bench-{secrets.token_hex(4)}")
    nodes: list[Node] = field(default_factory=list)
    balancer: Node | None = None
    setup: SetupStats = field(default_factory=SetupStats)
    _single: ServerProcess | None = None
    _run_dir: Path | None = None
    _db_created: bool = False
    _accounts: list[Account] = field(default_factory=list)
    _closed: bool = False
    _room_batches: int = 0

    @property
    def label(self) -> str:
        return "single" if self.mode == "single" else f"cluster ({self.processes} processes)"

    @property
    def uses_redis(self) -> bool:
        return self.mode == "cluster"

    @property
    def base_url(self) -> str:
        return self.nodes[0].base_url

    @property
    def server_pids(self) -> list[int]:
        return [n.pid for n in self.nodes]

    def ws_url(self, account: Account, node: int | None) -> str:
        """Process `node` directly, or the balancer (a single process has none: itself)."""
        if node is None:
            target = self.balancer or self.nodes[0]
        else:
            target = self.nodes[node % len(self.nodes)]
        return f"ws://127.0.0.1:{target.port}/ws?token={account.token}"

    async def open(self) -> None:
        """Create the database and start the processes; ready when every one answers /healthz."""
        _OPEN.append(self)
        self.workdir.mkdir(parents=True, exist_ok=True)
        db_url = self.mariadb.create(self.db_name)
        self._db_created = True
        env = _server_env(db_url)
        if self.mode == "single":
            await self._open_single(env)
        else:
            self._open_cluster(env)

    async def _open_single(self, env: dict[str, str]) -> None:
        argv = ours_argv()
        if argv is None:
            raise RuntimeError("no chat-server in this checkout (web/server.py)")
        port = free_port()
        env.update(
            {
                "CHAT_HOST": "127.0.0.1",
                "CHAT_PORT": str(port),
                "CHAT_DATA_DIR": str(self.workdir / "data"),
                "CHAT_JWT_SECRET": secrets.token_hex(32),
            }
        )
        server = ServerProcess("single", argv, env, port, "/healthz", self.workdir / "server.log")
        self._single = server
        server.start()
        await server.wait_ready()
        self.nodes = [Node("chat0", server.pid, port)]

    def _open_cluster(self, env: dict[str, str]) -> None:
        if haproxy_binary() is None:
            raise RuntimeError("HAProxy is not installed")
        env["CHAT_REDIS_NAMESPACE"] = self.namespace
        run_dir = self.workdir / "cluster"
        self._run_dir = run_dir
        argv = [
            "bash",
            str(CLUSTER_SH),
            str(self.processes),
            "--detach",
            "--db",
            env["CHAT_DB_URL"],
            "--redis",
            self.redis_url,
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--first-port",
            str(free_port()),
            "--run-dir",
            str(run_dir),
        ]
        out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, timeout=300)
        (self.workdir / "cluster.sh.out").write_bytes(out.stdout + out.stderr)
        if out.returncode != 0:
            raise RuntimeError(
                f"scripts/cluster.sh failed ({out.returncode}):\n{out.stderr.decode(errors='replace')[-3000:]}"
            )
        for line in (run_dir / "pids").read_text().splitlines():
            name, pid_text = line.split()
            pid = int(pid_text)
            if name == "haproxy":
                listen = argv[argv.index("--listen") + 1]
                self.balancer = Node(name, pid, int(listen.rsplit(":", 1)[1]))
            else:
                self.nodes.append(Node(name, pid, _port_of(pid)))

    async def accounts(self, count: int) -> list[Account]:
        """`count` accounts, registered once through the first process and reused."""
        if len(self._accounts) < count:
            self._accounts, self.setup = await accounts.make_accounts(self.base_url, count)
        return self._accounts[:count]

    async def rooms(self, count: int, tag: str) -> list[str]:
        """``count`` new rooms; their names are new on every call (a room name is taken once)."""
        owner = (await self.accounts(1))[0]
        self._room_batches += 1
        prefix = f"bench-{tag}-{self._room_batches}"
        return await accounts.create_rooms(self.base_url, owner.token, count, prefix=prefix)

    def pin(self, cpus: frozenset[int] | None) -> None:
        """Every thread of every chat-server on `cpus` (the balancer floats, as Redis and MariaDB do)."""
        for pid in self.server_pids:
            pin_process(pid, set(cpus) if cpus else None)

    def alive(self) -> bool:
        return all(Path(f"/proc/{pid}").exists() for pid in self.server_pids)

    def balancer_sessions(self) -> dict[str, int]:
        """Connections HAProxy holds open to each process now (`scur` of `show stat`)."""
        if self._run_dir is None:
            return {}
        sock_path = self._run_dir / "haproxy.sock"
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(sock_path))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        col = {name: i for i, name in enumerate(header)}
        out = {}
        for line in lines[1:]:
            row = line.split(",")
            if len(row) > col["scur"] and row[1] not in ("FRONTEND", "BACKEND"):
                out[row[1]] = int(row[col["scur"]] or 0)
        return out

    def log_tail(self, lines: int = 15) -> str:
        logs = [self.workdir / "server.log"]
        if self._run_dir is not None:
            logs = sorted(self._run_dir.glob("chat*.log"))
        tails = []
        for path in logs:
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def close(self) -> dict[str, object]:
        """Stop every process, drop the database, delete the namespace's keys; safe to call twice."""
        if self._closed:
            return {}
        self._closed = True
        report: dict[str, object] = {}
        if self._single is not None:
            report["exit_code"] = self._single.stop()
        if self._run_dir is not None and (self._run_dir / "pids").exists():
            out = subprocess.run(
                ["bash", str(CLUSTER_SH), "stop", str(self._run_dir)], capture_output=True, timeout=120
            )
            report["stop"] = (out.stdout + out.stderr).decode(errors="replace").strip()
        for node in [*self.nodes, *([self.balancer] if self.balancer else [])]:
            _kill_if_left(node.pid, "haproxy" if node is self.balancer else "chat-server")
        if self.uses_redis:
            with contextlib.suppress(OSError, RuntimeError):
                with Redis(self.redis_url) as r:
                    report["redis_keys_deleted"] = r.delete_namespace(self.namespace)
        if self._db_created:
            with contextlib.suppress(OSError, RuntimeError, subprocess.SubprocessError):
                self.mariadb.drop(self.db_name)
        with contextlib.suppress(ValueError):
            _OPEN.remove(self)
        return report

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _still_ours(pid: int, program: str) -> bool:
    """`pid` still runs `program` (not a recycled PID) and is not a zombie."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return program.encode() in cmdline and state != "Z"


def _kill_if_left(pid: int, program: str, grace: float = 5.0) -> None:
    """Last resort after the orderly stop: SIGKILL a process of ours that is somehow still there."""
    deadline = time.monotonic() + grace
    while _still_ours(pid, program) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _still_ours(pid, program):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 9)


def close_all() -> None:
    """Close every deployment still open (the conductor's last `finally`)."""
    for deployment in list(_OPEN):
        deployment.close()
