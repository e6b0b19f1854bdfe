"""The three servers the harness drives, behind one small interface.

- `ours`: the project's `chat-server`, production settings from environment
  variables, SQLite in a fresh temporary directory, real users made over HTTP;
- `peer`: `bench/peer_server.py` (python-socketio on uvicorn);
- `reference`: `bench/ref_server.py`, the generator-ceiling server.
The peer and the reference do not authenticate, so their accounts and rooms are
just names; the scenario code is the same for all three.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import accounts
from bench.accounts import Account, SetupStats
from bench.procs import ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
BENCH_PY = sys.executable


def ours_argv() -> list[str] | None:
    """How to start our server, or None while it does not exist yet."""
    script = ROOT / ".venv" / "bin" / "chat-server"
    server_module = ROOT / "web" / "server.py"
    if not server_module.exists():
        return None
    if script.exists():
        return [str(script)]
    return [str(ROOT / ".venv" / "bin" / "python"), "-m", "web.server"]


@dataclass
class Target:
    """A server under test plus its client dialect ("chat" or "sio")."""

    name: str
    kind: str
    server: ServerProcess
    workdir: Path
    setup: SetupStats = field(default_factory=SetupStats)
    _accounts: list[Account] = field(default_factory=list)
    _rooms: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def has_http_api(self) -> bool:
        return self.name == "ours"

    def ws_url(self, account: Account) -> str:
        if self.kind == "sio":
            return f"ws://127.0.0.1:{self.server.port}/socket.io/?EIO=4&transport=websocket"
        return f"ws://127.0.0.1:{self.server.port}/ws?token={account.token}"

    async def accounts(self, count: int) -> list[Account]:
        """`count` accounts, made once per target and reused across scenarios."""
        if len(self._accounts) < count:
            if self.has_http_api:
                made, stats = await accounts.make_accounts(self.base_url, count)
                self.setup = stats
                self._accounts = made
            else:
                self._accounts = [Account(f"u{i}", f"u{i:05d}", f"u{i:05d}")
                                  for i in range(count)]
        return self._accounts[:count]

    async def rooms(self, count: int, tag: str) -> list[str]:
        """`count` fresh rooms for one scenario (`tag` keeps scenarios apart)."""
        if self.has_http_api:
            owner = (await self.accounts(1))[0]
            return await accounts.create_rooms(self.base_url, owner.token, count,
                                               prefix=f"bench-{tag}")
        return [f"{tag}-{i}" for i in range(count)]

    def stop(self) -> None:
        self.server.stop()


def make_target(name: str, rundir: Path) -> Target | None:
    """Build (not start) the named target; None if it cannot run on this checkout."""
    port = free_port()
    workdir = rundir / name
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    log = workdir / "server.log"
    if name == "ours":
        argv = ours_argv()
        if argv is None:
            return None
        env.update({
            "CHAT_HOST": "127.0.0.1",
            "CHAT_PORT": str(port),
            "CHAT_DB_URL": f"sqlite:///{workdir}/chat.sqlite3",
            "CHAT_DATA_DIR": str(workdir / "data"),
            "CHAT_LOG_LEVEL": "WARNING",
            "CHAT_LOG_FORMAT": "json",
            # Thousands of registrations from one address: lift the login/register
            # rate limit (the server's documented switch, README "Configuration").
            "CHAT_RATE_LIMIT": "false",
        })
        server = ServerProcess(name, argv, env, port, "/healthz", log)
        return Target(name, "chat", server, workdir)
    env["PYTHONPATH"] = str(ROOT)
    if name == "peer":
        argv = [BENCH_PY, "-m", "bench.peer_server", "--port", str(port)]
        return Target(name, "sio", ServerProcess(name, argv, env, port, "/healthz", log),
                      workdir)
    if name == "reference":
        argv = [BENCH_PY, "-m", "bench.ref_server", "--port", str(port)]
        return Target(name, "chat", ServerProcess(name, argv, env, port, "/healthz", log),
                      workdir)
    raise ValueError(f"unknown target {name}")
