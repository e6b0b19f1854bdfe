"""The cluster harness itself (tests/cluster.py) and scripts/cluster.sh: processes behind HAProxy.

Each process is asked directly, on its own port, what it served (its
``/metrics``), so the balancer's choices are seen without any change to the
server. None of this needs the cluster mode: the processes share the
database and are only asked to register accounts, log in and hold sessions.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from tests.cluster import MARIADB_PARAM, POSTGRES_PARAM, ROOT, Cluster, free_port, open_cluster
from tests.conftest import open_ws

pytestmark = pytest.mark.cluster


async def _metric(url: str, name: str) -> float:
    """One unlabelled series of the process at ``url`` (0 before it first counts)."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


async def _registered(cluster: Cluster) -> list[float]:
    return [await _metric(node.url, "chat_users_registered_total") for node in cluster.nodes]


async def _sessions(cluster: Cluster) -> list[float]:
    return [await _metric(node.url, "chat_sessions") for node in cluster.nodes]


async def _register(http: httpx.AsyncClient, count: int) -> None:
    for _ in range(count):
        username = f"u{os.urandom(4).hex()}"
        r = await http.post("/api/v1/register", json={"username": username, "password": "correct horse"})
        assert r.status_code == 201, r.text


async def _token(http: httpx.AsyncClient) -> str:
    credentials = {"username": f"u{os.urandom(4).hex()}", "password": "correct horse"}
    assert (await http.post("/api/v1/register", json=credentials)).status_code == 201
    r = await http.post("/api/v1/login", json=credentials)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


async def _session(nursery: trio.Nursery, cluster: Cluster, token: str) -> WebSocketConnection:
    ws = await open_ws(nursery, f"{cluster.ws_url}?token={token}")
    await ws.send_message('{"type":"join","room_id":"lobby","ref":"j"}')
    await ws.get_message()  # the reply: the session is registered on its process
    return ws


async def _closed_with(ws: WebSocketConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed, trio.fail_after(10):
        while True:
            await ws.get_message()
    assert closed.value.reason is not None
    return closed.value.reason.code


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_two_processes_take_turns_behind_haproxy_and_one_killed_leaves_the_other_serving(
    tmp_path: Path, cluster_db_url: str, redis_url: str, haproxy: str, nursery: trio.Nursery
) -> None:
    async with open_cluster(
        tmp_path / "run", 2, db_url=cluster_db_url, redis_url=redis_url, haproxy=haproxy
    ) as cluster:
        async with httpx.AsyncClient(base_url=cluster.http, timeout=10) as http:
            # Round robin, one request at a time, over one keep-alive connection.
            await _register(http, 4)
            assert await _registered(cluster) == [2, 2]
            tokens = [await _token(http) for _ in range(3)]
            # Two WebSocket connections in a row land on different processes.
            sockets = [await _session(nursery, cluster, token) for token in tokens[:2]]
            assert await _sessions(cluster) == [1, 1]

            survivor = cluster.nodes[0].url
            before = await _metric(survivor, "chat_users_registered_total")
            await cluster.kill(1)
            # At once, before the health checks notice: what the dead process refuses is retried on the other.
            await _register(http, 4)
            assert await _metric(survivor, "chat_users_registered_total") == before + 4
            assert await cluster.wait_status(1, "DOWN", timeout=5) < 5
            assert await _closed_with(sockets[1]) == 1006  # its process died: no close frame
            await _session(nursery, cluster, tokens[2])
            assert await _metric(cluster.nodes[0].url, "chat_sessions") == 2

            await cluster.restart(1)
            await _register(http, 2)
            registered = await _registered(cluster)
            assert (
                registered[1] >= 1 and sum(registered) == before + 6
            )  # back in the rotation (counting from 0)

            # SIGTERM: the session closes with 1001 through the balancer's tunnel; exit 0.
            assert await cluster.terminate(0) == 0
            assert await _closed_with(sockets[0]) == 1001
            await cluster.wait_status(0, "DOWN", timeout=5)
            assert (await http.get("/healthz")).status_code == 200  # the restarted process serves alone

    processes = [cluster.balancer, *(node.process for node in cluster.nodes)]
    assert all(p is not None and p.returncode is not None for p in processes)
    assert _refused(cluster.balancer_port) and all(_refused(node.port) for node in cluster.nodes)


@pytest.mark.parametrize("cluster_db_url", [MARIADB_PARAM], indirect=True)
async def test_a_test_cancelled_midway_still_stops_every_process_and_the_balancer(
    tmp_path: Path, cluster_db_url: str, redis_url: str, haproxy: str
) -> None:
    with trio.CancelScope() as scope:
        async with open_cluster(
            tmp_path / "run", 1, db_url=cluster_db_url, redis_url=redis_url, haproxy=haproxy
        ) as cluster:
            scope.cancel()  # as a test's deadline or a failing sibling task cancels it
            await trio.sleep(1)
    assert scope.cancelled_caught
    assert cluster.balancer is not None and cluster.balancer.returncode is not None
    assert all(node.process is not None and node.process.returncode is not None for node in cluster.nodes)


@pytest.mark.parametrize("cluster_db_url", [POSTGRES_PARAM], indirect=True)
async def test_cluster_sh_starts_n_processes_behind_haproxy_and_stop_ends_them_all(
    tmp_path: Path, cluster_db_url: str, redis_url: str, haproxy: str
) -> None:
    run_dir, port = tmp_path / "run", free_port()
    script = str(ROOT / "scripts" / "cluster.sh")
    options = ["--db", cluster_db_url, "--redis", redis_url, "--listen", f"127.0.0.1:{port}"]
    options += ["--first-port", str(free_port()), "--run-dir", str(run_dir), "--detach"]
    started = await trio.run_process(
        ["bash", script, "3", *options], capture_stdout=True, capture_stderr=True, check=False
    )
    assert started.returncode == 0, started.stderr.decode()
    pids = dict(line.split() for line in (await trio.Path(run_dir / "pids").read_text()).splitlines())
    assert sorted(pids) == ["chat0", "chat1", "chat2", "haproxy"]
    out = started.stdout.decode()
    assert f"http://127.0.0.1:{port}" in out and f"cluster.sh stop {run_dir}" in out
    assert all(f"pid {pid} " in out for pid in pids.values())
    assert (await trio.Path(run_dir / "jwt_secret").stat()).st_mode & 0o777 == 0o600
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            r = await http.post("/api/v1/register", json={"username": "operator", "password": "long enough"})
            assert r.status_code == 201, r.text
    finally:
        stopped = await trio.run_process(
            ["bash", script, "stop", str(run_dir)], capture_stdout=True, capture_stderr=True, check=False
        )
    assert stopped.returncode == 0, stopped.stderr.decode()
    assert [pid for pid in pids.values() if not _gone(pid)] == []
    assert _refused(port)

    refused = await trio.run_process(
        ["bash", script, "2", "--db", "sqlite://x.sqlite3"], capture_stderr=True, check=False
    )
    assert refused.returncode == 1 and b"SQLite cannot be shared" in refused.stderr


def _gone(pid: str) -> bool:
    """Exited: no such process, or a zombie whose parent does not collect it (a container's PID 1 may never)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True
