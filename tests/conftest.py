"""Fixtures: a real server on port 0 over a real database, and clients that speak the contract.

``server`` builds on ``db_url`` (a fresh SQLite file, or a fresh MariaDB or
PostgreSQL database when the backend is ``mariadb`` or ``postgres``); clients
build on ``server``. The server variants skip when their service does not
answer, except under CI (``CI=true``), where its absence fails the run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection

from web.config import Config
from web.server import Running, serve

pytest_plugins = ("tests.cluster",)  # start_cluster and its services, for the cluster-marked tests

JWT_SECRET = "test-secret-" + "x" * 40
MARIADB = "mysql://root:@127.0.0.1:3306/{db}"
POSTGRES = "postgres://postgres@127.0.0.1:5432/{db}"


def _mariadb(sql: str) -> bool:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        return False
    result = subprocess.run([client, "-h127.0.0.1", "-uroot", "-e", sql], capture_output=True, timeout=20)
    return result.returncode == 0


_ANSWERED: set[str] = set()
"""The database servers that answered once in this pytest process: not asked again before every test."""

_DROPPING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")


def drop_later(run: Callable[[str], bool], sql: str) -> None:
    """Drop a test's database while the next test runs; :func:`pytest_sessionfinish` waits for the last.

    A drop costs PostgreSQL 0.3 to 1 s (it waits for the database's sessions
    and removes its files): paid in line, that was a minute of the suite.
    """
    _DROPPING.submit(run, sql)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _DROPPING.shutdown(wait=True)


def mariadb_available() -> bool:
    if "mariadb" in _ANSWERED:
        return True
    if _mariadb("SELECT 1"):
        _ANSWERED.add("mariadb")
        return True
    return False


def require_mariadb() -> None:
    if mariadb_available():
        return
    reason = "MariaDB is not answering at 127.0.0.1:3306 (start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _postgres(sql: str) -> bool:
    client = shutil.which("psql")
    if client is None:
        return False
    command = [client, "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-w", "-v", "ON_ERROR_STOP=1"]
    result = subprocess.run([*command, "-c", sql], capture_output=True, timeout=20)
    return result.returncode == 0


def require_postgres() -> None:
    if "postgres" in _ANSWERED:
        return
    if _postgres("SELECT 1"):
        _ANSWERED.add("postgres")
        return
    reason = "PostgreSQL is not answering at 127.0.0.1:5432 as user postgres, or psql is missing (start it: pg_ctlcluster --skip-systemctl-redirect 15 main start)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/chat.sqlite3"
        return
    name = f"chat_test_{secrets.token_hex(4)}"
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
def sqlite_url(tmp_path: Path) -> str:
    """A module whose subject never reaches the database overrides ``db_url`` with this: it runs once, not once per database."""
    return f"sqlite://{tmp_path}/chat.sqlite3"


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    return Config(
        host="127.0.0.1",
        port=0,
        data_dir=tmp_path / "data",
        db_url=db_url,
        jwt_secret=JWT_SECRET,
        log_level="INFO",
        shutdown_timeout=5,
    )


@dataclass
class Server:
    running: Running
    stop: trio.Event
    config: Config

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.running.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.running.port}/ws"


async def start_server(nursery: trio.Nursery, config: Config) -> Server:
    stop = trio.Event()
    running = await nursery.start(serve, config, stop)
    return Server(running, stop, config)


@pytest.fixture
async def server(nursery: trio.Nursery, config: Config) -> AsyncIterator[Server]:
    srv = await start_server(nursery, config)
    yield srv
    srv.stop.set()


@dataclass
class Account:
    user_id: str
    username: str
    password: str
    token: str

    @property
    def user(self) -> dict[str, str]:
        return {"user_id": self.user_id, "username": self.username}


class Api:
    """A thin HTTP client for the contract's endpoints."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.http, timeout=10)

    async def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, path, headers=headers, **kw)

    async def account(self, username: str | None = None, password: str = "correct horse") -> Account:
        username = username or f"u{secrets.token_hex(4)}"
        r = await self.call("POST", "/api/v1/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        r = await self.call("POST", "/api/v1/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        return Account(body["user"]["user_id"], body["user"]["username"], password, body["token"])


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    client = Api(server)
    yield client
    await client.http.aclose()


class Peer:
    """One WebSocket session, reading frames as parsed JSON."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws

    async def send(self, obj: Any) -> None:
        await self.ws.send_message(obj if isinstance(obj, str | bytes) else json.dumps(obj))

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        with trio.fail_after(timeout):
            return json.loads(await self.ws.get_message())  # type: ignore[no-any-return]

    async def expect(self, kind: str, timeout: float = 5, **fields: Any) -> dict[str, Any]:
        """The next frame of type ``kind`` matching ``fields``; earlier other frames are skipped."""
        with trio.fail_after(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                    return frame

    async def command(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Send a command with a fresh ref and return the reply that echoes it."""
        ref = secrets.token_hex(4)
        await self.send({**obj, "ref": ref})
        with trio.fail_after(5):
            while True:
                frame = await self.recv()
                if frame.get("ref") == ref:
                    return frame


class Connect:
    def __init__(self, server: Server, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery

    async def __call__(self, account: Account, *, join: str | None = None, query: str = "") -> Peer:
        ws = await open_ws(self.nursery, f"{self.server.ws_url}?token={account.token}{query}")
        peer = Peer(ws)
        if join:
            reply = await peer.command({"type": "join", "room_id": join})
            assert reply["type"] == "joined", reply
        return peer


async def open_ws(nursery: trio.Nursery, url: str, **kw: Any) -> WebSocketConnection:
    from trio_websocket import connect_websocket_url

    return await connect_websocket_url(nursery, url, **kw)


@pytest.fixture
def connect(server: Server, nursery: trio.Nursery) -> Connect:
    return Connect(server, nursery)


def with_config(config: Config, **changes: Any) -> Config:
    return replace(config, **changes)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser tests drive Playwright, whose asyncio loop must not share a
    # process with the Trio tests: scripts/test.sh runs them separately.
    for item in items:
        if item.path.name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """More environment for a browser module's server process (``tests.test_browser.chat_server``).

    A module that needs other settings overrides this fixture.
    """
    return {}
