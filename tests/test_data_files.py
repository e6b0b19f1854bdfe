"""The data on disk (password hashes, private messages, the JWT secret) is readable by its owner only."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.conftest import Api, Connect, Server, start_server
from web.config import Config

SQLITE_FILES = ("chat.sqlite3", "chat.sqlite3-wal", "chat.sqlite3-shm")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start processes with (022): left alone, it makes files 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def data_config(tmp_path: Path, db_folder: Path | None = None) -> Config:
    data = tmp_path / "data"
    return Config(
        host="127.0.0.1",
        port=0,
        data_dir=data,
        db_url=f"sqlite://{db_folder or data}/chat.sqlite3",
        jwt_secret=None,
        shutdown_timeout=5,
    )


async def store_a_message(server: Server, nursery: trio.Nursery) -> None:
    """A stored message: the SQLite file has its -wal and -shm companions from here on."""
    api = Api(server)
    peer = await Connect(server, nursery)(await api.account(), join="lobby")
    reply = await peer.command({"type": "group", "room_id": "lobby", "content": "a private word"})
    assert reply["type"] == "ack"
    await api.http.aclose()


async def test_a_fresh_data_directory_and_its_files_are_private(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    config = data_config(tmp_path)
    server = await start_server(nursery, config)
    await store_a_message(server, nursery)
    assert mode(config.data_dir) == 0o700
    for name in (*SQLITE_FILES, "jwt_secret"):
        assert mode(config.data_dir / name) == 0o600, name
    server.stop.set()


@pytest.mark.parametrize("folder", ["new", "existing"])
async def test_a_database_outside_the_data_directory_is_private_too(
    tmp_path: Path, nursery: trio.Nursery, folder: str
) -> None:
    """A folder the server creates for the file is 0700; one that exists is the operator's and stays as it is."""
    elsewhere = tmp_path / "elsewhere" / "db"
    if folder == "existing":
        elsewhere.mkdir(parents=True)
        elsewhere.chmod(0o755)
    server = await start_server(nursery, data_config(tmp_path, elsewhere))
    await store_a_message(server, nursery)
    assert mode(elsewhere) == (0o700 if folder == "new" else 0o755)
    for name in SQLITE_FILES:
        assert mode(elsewhere / name) == 0o600, name
    server.stop.set()


async def test_data_left_open_by_an_earlier_version_is_restricted_with_a_warning(
    tmp_path: Path, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    config = data_config(tmp_path)
    config.data_dir.mkdir(mode=0o755)
    opened = [config.data_dir / "jwt_secret", config.data_dir / "chat.sqlite3"]
    opened[0].write_text("s" * 48)
    opened[1].touch()
    for path in opened:
        path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.private_files"):
        server = await start_server(nursery, config)
    await store_a_message(server, nursery)
    assert mode(config.data_dir) == 0o700
    for name in (*SQLITE_FILES, "jwt_secret"):
        assert mode(config.data_dir / name) == 0o600, name
    warned = [r.getMessage() for r in caplog.records if r.name == "storage.private_files"]
    for path, was, now in ((config.data_dir, "755", "700"), *((p, "644", "600") for p in opened)):
        assert f"{path} was open to other local users (mode {was}); restricted it to mode {now}" in warned
    server.stop.set()
