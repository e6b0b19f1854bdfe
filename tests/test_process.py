"""The ``chat-server`` command as an operator runs it: config errors, JSON logs, SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trio

from storage.database import describe_db_url
from tests.conftest import start_server
from web.config import Config, ConfigError, load_config

COMMAND = [sys.executable, "-c", "from web.server import main; main()"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update({"CHAT_DATA_DIR": str(tmp_path / "data"), **extra})
    return env


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CHAT_PORT", "eighty", "server.port (from CHAT_PORT)"),
        ("CHAT_PORT", "70000", "server.port (from CHAT_PORT)"),
        ("CHAT_LOG_FORMAT", "xml", "logging.format (from CHAT_LOG_FORMAT)"),
        ("CHAT_LOG_LEVEL", "loud", "logging.level (from CHAT_LOG_LEVEL)"),
        ("CHAT_DB_URL", "postgres://x", "storage.db_url (from CHAT_DB_URL)"),
        ("CHAT_JWT_SECRET", "short", "auth.jwt_secret (from CHAT_JWT_SECRET)"),
    ],
)
def test_an_invalid_setting_stops_start_up_with_one_line_and_status_2(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    result = subprocess.run(
        COMMAND, env=_env(tmp_path, **{variable: value}), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "expected" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "named", "shown"),
    [
        ("CHAT_JWT_SECRET", "hunter2-is-too-short", "auth.jwt_secret (from CHAT_JWT_SECRET)", "20 bytes"),
        (
            "CHAT_DB_URL",
            "postgresql+asyncpg://chat:hunter2@db.example:5432/chat",
            "storage.db_url (from CHAT_DB_URL)",
            "postgresql+asyncpg://chat:***@db.example:5432/chat",
        ),
        (
            "CHAT_DB_URL",
            "mysql//chat:hun/ter@2@db.example/chat?password=hunter2",
            "storage.db_url (from CHAT_DB_URL)",
            "mysql//chat:***@db.example/chat?password=***",
        ),
        (
            "CHAT_DB_URL",
            "postgres://chat:hunter2@db.example:5432",
            "storage.db_url (from CHAT_DB_URL)",
            "postgres://chat:***@db.example:5432",
        ),
    ],
)
def test_a_refused_secret_is_named_but_its_value_never_printed(
    tmp_path: Path, variable: str, value: str, named: str, shown: str
) -> None:
    result = subprocess.run(
        COMMAND, env=_env(tmp_path, **{variable: value}), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert named in result.stderr and "expected" in result.stderr and shown in result.stderr, result.stderr
    assert "hunter2" not in result.stderr and "hun/ter" not in result.stderr


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[logging]\nformat = "json"\n')
    config = load_config(path, {"CHAT_PORT": "9100"})
    assert (config.port, config.host, config.log_format) == (9100, "0.0.0.0", "json")
    assert config.db_url == "sqlite://data/chat.sqlite3"
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml", {})


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("postgres://chat:hunter2@db.example:5432/chat", "postgres://db.example:5432/chat"),
        ("postgresql://chat@db.example/chat?ssl=true", "postgresql://db.example/chat"),
        ("mysql://root:hunter2@127.0.0.1:3306/test", "mysql://127.0.0.1:3306/test"),
    ],
)
def test_a_database_server_url_naming_its_database_is_accepted_and_logged_without_credentials(
    url: str, logged: str
) -> None:
    assert load_config(None, {"CHAT_DB_URL": url}).db_url == url
    assert describe_db_url(url) == logged


async def _until_healthy(http: httpx.AsyncClient) -> None:
    """Poll ``/healthz`` until it answers 200: the server is another process, with no event to wait on."""
    with trio.fail_after(30):
        while True:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_closes_sessions_with_1001_and_exits_0(tmp_path: Path) -> None:
    from trio_websocket import ConnectionClosed, open_websocket_url

    port = _free_port()
    env = _env(
        tmp_path, CHAT_PORT=str(port), CHAT_DB_URL=f"sqlite://{tmp_path}/x.sqlite3", CHAT_LOG_FORMAT="json"
    )
    proc = subprocess.Popen(COMMAND, env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            await _until_healthy(http)
            creds = {"username": "operator", "password": "long enough"}
            await http.post("/api/v1/register", json=creds)
            token = (await http.post("/api/v1/login", json=creds)).json()["token"]
        async with open_websocket_url(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            await ws.send_message('{"type":"join","room_id":"lobby"}')
            await ws.get_message()
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(10):
                while True:
                    await ws.get_message()
            assert closed.value.reason.code == 1001
        status = await trio.to_thread.run_sync(lambda: proc.wait(timeout=10))
        assert status == 0 and time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    events = {(x.get("actor"), x.get("event")) for x in lines}
    assert {
        ("storage", "started"),
        ("registry", "started"),
        ("room:lobby", "started"),
        ("storage", "stopped"),
    } <= events
    session_lines = [x for x in lines if str(x.get("actor", "")).startswith("session:")]
    assert session_lines and all({"actor", "event", "parent", "reason"} <= x.keys() for x in session_lines)
    assert token not in stderr


async def test_debug_logging_never_writes_credentials_or_messages(tmp_path: Path) -> None:
    """At CHAT_LOG_LEVEL=debug the libraries under us (hpack, tortoise, aiosqlite...) stay at INFO."""
    from trio_websocket import open_websocket_url

    port = _free_port()
    env = _env(
        tmp_path, CHAT_PORT=str(port), CHAT_DB_URL=f"sqlite://{tmp_path}/x.sqlite3", CHAT_LOG_LEVEL="debug"
    )
    password, content = "debug-password-1", "debug-content-Q7"
    proc = subprocess.Popen(COMMAND, env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            await _until_healthy(http)
            creds = {"username": "debugger", "password": password}
            assert (await http.post("/api/v1/register", json=creds)).status_code == 201
            token = (await http.post("/api/v1/login", json=creds)).json()["token"]
        # HTTP/2 (prior knowledge): its headers, Authorization included, go through hpack.
        async with httpx.AsyncClient(base_url=base, http1=False, http2=True, timeout=5) as h2:
            me = await h2.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.http_version == "HTTP/2"
        async with open_websocket_url(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            await ws.send_message('{"type":"join","room_id":"lobby"}')
            await ws.send_message(json.dumps({"type": "group", "room_id": "lobby", "content": content}))
            with trio.fail_after(5):
                while json.loads(await ws.get_message()).get("type") != "group":
                    pass
        proc.send_signal(signal.SIGTERM)
        assert await trio.to_thread.run_sync(lambda: proc.wait(timeout=10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
    assert "listening on" in stderr
    for secret in (token, token.split(".")[2], "$argon2id$", password, content):
        assert secret not in stderr, f"{secret!r} is in the log"


async def test_create_user_makes_an_account_that_can_log_in(
    config: Config, nursery: trio.Nursery, tmp_path: Path
) -> None:
    env = _env(tmp_path, CHAT_DB_URL=config.db_url)

    async def create(name: str, password: str) -> subprocess.CompletedProcess[bytes]:
        return await trio.run_process(
            [*COMMAND, "create-user", name],
            stdin=f"{password}\n".encode(),
            env=env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )

    made = await create("Operator", "long enough")
    assert made.returncode == 0, made.stderr
    assert b"created Operator" in made.stdout
    taken = await create("operator", "long enough")  # unique after case folding, as over HTTP
    assert taken.returncode == 1 and b"taken" in taken.stderr
    short = await create("someone", "short")
    assert short.returncode == 1 and b"password must be" in short.stderr
    assert b"long enough" not in made.stdout + made.stderr

    server = await start_server(nursery, config)
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post("/api/v1/login", json={"username": "Operator", "password": "long enough"})
        assert r.status_code == 200, r.text


def _masked(payload: bytes, opcode: int = 0x1) -> bytes:
    mask = b"\x0f\xf0\x55\xaa"
    assert len(payload) < 126
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


class LoadedMember:
    """A client in a busy room that falls behind, as a loaded client does, and closes as RFC 6455 says.

    It reads nothing until ``reading`` is set, then reads slowly. Only frame
    headers are parsed (server frames are never masked). When the server's
    close frame arrives, the member stops sending, answers with its own
    close frame, and reads on to the end of the stream.
    """

    def __init__(self, stream: trio.SocketStream, reading: trio.Event) -> None:
        self.stream = stream
        self.reading = reading
        self.close_code: int | None = None
        self.sending = trio.Lock()

    async def read_to_the_end(self) -> None:
        buffer = bytearray()
        await self.reading.wait()
        try:
            while data := await self.stream.receive_some(8192):
                await trio.sleep(0.005)  # slower than the room: the server's buffers fill up
                buffer += data
                while len(buffer) >= 2:
                    size, start = buffer[1] & 0x7F, 2
                    if size == 126:
                        size, start = int.from_bytes(buffer[2:4], "big"), 4
                    elif size == 127:
                        size, start = int.from_bytes(buffer[2:10], "big"), 10
                    if len(buffer) < start + size:
                        break
                    if buffer[0] & 0x0F == 0x8 and self.close_code is None:
                        self.close_code = int.from_bytes(buffer[start : start + 2], "big")
                        async with self.sending:
                            await self.stream.send_all(_masked(buffer[start : start + 2], opcode=0x8))
                    del buffer[: start + size]
        except trio.BrokenResourceError:
            pass  # reset after the server gave up waiting: what was read before it stands

    async def keep_posting(self) -> None:
        post = b"".join(
            _masked(json.dumps({"type": "group", "room_id": "lobby", "content": f"m{n}"}).encode())
            for n in range(20)
        )
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while self.close_code is None:
                async with self.sending:
                    if self.close_code is None:
                        await self.stream.send_all(post)
                await trio.sleep(0.005)  # the load's pace: the server is another process


async def test_sigterm_under_write_load_gives_every_session_1001(tmp_path: Path) -> None:
    """Every client gets the 1001 close frame, even with megabytes of the room's traffic ahead of it."""
    port = _free_port()
    env = _env(
        tmp_path,
        CHAT_PORT=str(port),
        CHAT_DB_URL=f"sqlite://{tmp_path}/x.sqlite3",
        CHAT_RATE_LIMIT="false",
        CHAT_SESSION_OUTBOX="1000000",  # this test is about closing, not about 1013
    )
    proc = subprocess.Popen(COMMAND, env=env, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            await _until_healthy(http)
            tokens = []
            for n in range(30):
                creds = {"username": f"member{n}", "password": "long enough"}
                await http.post("/api/v1/register", json=creds)
                tokens.append((await http.post("/api/v1/login", json=creds)).json()["token"])
        members = []
        reading = trio.Event()
        for token in tokens:
            sock = trio.socket.socket()
            # A big receive buffer, as a busy client's grows to: megabytes of the room's
            # traffic wait in it, ahead of the close frame, when the server stops.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            await sock.connect(("127.0.0.1", port))
            stream = trio.SocketStream(sock)
            await stream.send_all(
                f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            response = b""
            while b"\r\n\r\n" not in response:
                response += await stream.receive_some(1)  # up to the 101's end, and not a byte more
            assert response.startswith(b"HTTP/1.1 101"), response
            await stream.send_all(_masked(b'{"type":"join","room_id":"lobby"}'))
            members.append(LoadedMember(stream, reading))
        async with trio.open_nursery() as nursery:
            for member in members:
                nursery.start_soon(member.read_to_the_end)
            for member in members[:15]:
                nursery.start_soon(member.keep_posting)
            await trio.sleep(1.5)  # the room under load, and nobody reading
            proc.send_signal(signal.SIGTERM)
            reading.set()
        assert [m.close_code for m in members] == [1001] * len(members)
        assert await trio.to_thread.run_sync(lambda: proc.wait(timeout=10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
