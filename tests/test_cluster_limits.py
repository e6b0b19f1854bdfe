"""Throttles, quotas and logouts hold across the processes of a cluster, as a client meets them.

Real ``chat-server`` processes behind HAProxy (tests/cluster.py): a guesser
whose attempts the balancer spreads over every process meets the limits of
one process, and a token logged out on one process is refused by all.

How a test speaks for many client addresses: the processes believe
``X-Forwarded-For`` from 127.0.0.1 (``CHAT_TRUSTED_PROXIES``), which is
HAProxy's address and the test's own. Through the balancer, HAProxy adds
the test's address after the one the test wrote, and the rightmost address
that is not a trusted proxy is the one the test wrote; straight to a
process, the header the test writes is believed as it is.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from storage.database import open_database
from tests.cluster import MARIADB_PARAM, POSTGRES_PARAM, StartCluster, free_port, redis_command
from tests.conftest import Account, open_ws
from tests.test_login_throttle import burst, login_request
from web.schemas import ErrorBody

pytestmark = pytest.mark.cluster

REDIS_ONLY_ON_POSTGRES = pytest.mark.parametrize("cluster_db_url", [POSTGRES_PARAM], indirect=True)
"""For a limit whose counts live in Redis alone (the sliding windows): the database only holds the
accounts, so one database proves it, and the suite does not pay these argon2-bound tests twice. They
run with the PostgreSQL cluster stage (scripts/test.sh balances the lanes with them counted)."""

HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30)


async def account(http: httpx.AsyncClient, password: str = "correct horse") -> Account:
    username = f"u{secrets.token_hex(4)}"
    r = await http.post("/api/v1/register", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    r = await http.post("/api/v1/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Account(r.json()["user"]["user_id"], username, password, r.json()["token"])


async def login(url: str, username: str, password: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    async with client(url) as http:
        return await http.post(
            "/api/v1/login", json={"username": username, "password": password}, headers=headers
        )


async def status_of_login(url: str, username: str, password: str, forwarded_for: str | None = None) -> int:
    return (await login(url, username, password, forwarded_for)).status_code


async def metric(url: str, name: str) -> float:
    """One unlabelled series of the process at ``url`` (0 before it first counts)."""
    async with client(url) as http:
        text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


async def me(url: str, token: str) -> int:
    async with client(url) as http:
        return (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code


async def handshake(url: str, token: str) -> int:
    """The status of a ``/ws`` handshake with ``token`` (401 when it is refused; 101 is not followed)."""
    async with client(url) as http:
        return (await http.get("/ws", params={"token": token}, headers=HANDSHAKE)).status_code


async def session(nursery: trio.Nursery, ws_url: str, token: str) -> WebSocketConnection:
    """A socket that is registered on its process (its join was answered)."""
    ws = await open_ws(nursery, f"{ws_url}?token={token}")
    await ws.send_message('{"type":"join","room_id":"lobby","ref":"j"}')
    with trio.fail_after(10):
        while '"ref":"j"' not in str(await ws.get_message()):
            pass
    return ws


async def closed_with(ws: WebSocketConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed, trio.fail_after(10):
        while True:
            await ws.get_message()
    assert closed.value.reason is not None
    return int(closed.value.reason.code)


# login throttle ------------------------------------------------------------------


@REDIS_ONLY_ON_POSTGRES
async def test_a_burst_of_wrong_passwords_spread_over_three_processes_is_checked_only_up_to_the_limit(
    start_cluster: StartCluster,
) -> None:
    """100 guesses written at once through the balancer: 10 are checked (401) in all, the rest refused."""
    cluster = await start_cluster(3)
    async with client(cluster.http) as http:
        victim = await account(http)
    streams = [await trio.open_tcp_stream("127.0.0.1", cluster.balancer_port) for _ in range(100)]
    answers = await burst(streams, [login_request(victim.username, f"guess {n:04}") for n in range(100)])
    assert Counter(status for status, _ in answers) == {401: 10, 429: 90}
    # As from one process: the whole window, less the moment since the first guess, in whole seconds.
    assert {int(headers["retry-after"]) for status, headers in answers if status == 429} <= {59, 60}
    answered = [
        await metric(node.url, "chat_logins_failed_total")
        + await metric(node.url, "chat_logins_throttled_total")
        for node in cluster.nodes
    ]
    assert sum(answered) == 100 and all(n >= 20 for n in answered)  # every process took its share


@REDIS_ONLY_ON_POSTGRES
async def test_the_owner_is_known_at_their_usual_address_by_every_process_while_guesses_come_from_elsewhere(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(3)
    first, *others = cluster.nodes
    async with client(cluster.http) as http:
        owner = await account(http)
    assert await status_of_login(first.url, owner.username, owner.password, "198.51.100.7") == 200
    statuses: Counter[int] = Counter()
    for n in range(150):  # a distributed guess through the balancer: 15 addresses, 10 guesses each
        statuses[
            await status_of_login(cluster.http, owner.username, f"guess {n}", f"203.0.113.{n // 10}")
        ] += 1
    assert statuses == {401: 100, 429: 50}  # the account's own back-off, counted once for all processes
    for node in others:  # they never saw the owner log in, yet know the address
        assert await status_of_login(node.url, owner.username, owner.password, "198.51.100.7") == 200
        r = await login(node.url, owner.username, owner.password, "192.0.2.99")  # a new place waits
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


@REDIS_ONLY_ON_POSTGRES
async def test_the_right_password_forgets_its_address_failures_on_every_process(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(3)
    async with client(cluster.http) as http:
        owner = await account(http)
    guesses = [
        await status_of_login(cluster.http, owner.username, f"guess {n}", "203.0.113.40") for n in range(9)
    ]
    assert await status_of_login(cluster.http, owner.username, owner.password, "203.0.113.40") == 200
    guesses += [
        await status_of_login(cluster.http, owner.username, f"again {n}", "203.0.113.40") for n in range(11)
    ]
    assert guesses == [401] * 9 + [401] * 10 + [429]


@REDIS_ONLY_ON_POSTGRES
async def test_one_address_spraying_accounts_over_every_process_is_held_to_fifty_failures(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(3)
    statuses: Counter[int] = Counter()
    for n in range(60):
        statuses[await status_of_login(cluster.http, f"nobody{n}", "guess guess", "203.0.113.5")] += 1
    assert statuses == {401: 50, 429: 10}
    async with client(cluster.http) as http:
        owner = await account(http)
    for node in cluster.nodes:
        assert await status_of_login(node.url, owner.username, owner.password, "203.0.113.5") == 429
    assert await status_of_login(cluster.nodes[0].url, owner.username, owner.password, "203.0.113.6") == 200


@REDIS_ONLY_ON_POSTGRES
async def test_malformed_logins_on_every_process_count_against_their_address(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(3)
    async with client(cluster.http) as http:
        for _ in range(50):
            r = await http.post(
                "/api/v1/login", content=b"{not json", headers={"X-Forwarded-For": "203.0.113.77"}
            )
            assert r.status_code == 400
        owner = await account(http)
    for node in cluster.nodes:
        assert await status_of_login(node.url, owner.username, owner.password, "203.0.113.77") == 429


# registrations and rooms ---------------------------------------------------------


@REDIS_ONLY_ON_POSTGRES
async def test_registrations_from_one_address_are_counted_once_for_every_process(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster(3)
    answers = []
    async with client(cluster.http) as http:
        for _ in range(25):
            credentials = {"username": f"u{secrets.token_hex(4)}", "password": "correct horse"}
            answers.append(
                await http.post(
                    "/api/v1/register", json=credentials, headers={"X-Forwarded-For": "203.0.113.20"}
                )
            )
    assert Counter(r.status_code for r in answers) == {201: 20, 429: 5}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)


@REDIS_ONLY_ON_POSTGRES
async def test_the_room_creation_rate_is_counted_once_for_every_process(start_cluster: StartCluster) -> None:
    cluster = await start_cluster(3)
    async with client(cluster.http) as http:
        owner = await account(http)
        auth = {"Authorization": f"Bearer {owner.token}"}
        answers = [
            await http.post("/api/v1/rooms", json={"name": f"Room {n}"}, headers=auth) for n in range(15)
        ]
    assert Counter(r.status_code for r in answers) == {201: 5, 429: 10}
    refused = [r for r in answers if r.status_code == 429]
    assert all(int(r.headers["Retry-After"]) >= 1 and "5 rooms every 60 s" in r.text for r in refused)


async def test_the_last_places_of_the_room_quota_go_once_when_two_processes_are_asked_at_once(
    start_cluster: StartCluster, cluster_db_url: str
) -> None:
    cluster = await start_cluster(2)
    async with client(cluster.http) as http:
        owner = await account(http)
    async with open_database(cluster_db_url) as db:  # 48 of the 50 rooms the account may create
        for n in range(48):
            await db.create_room(f"Earlier {n}", owner.user_id)
    answers: list[httpx.Response] = []

    async def create(node_url: str, n: int) -> None:
        async with client(node_url) as http:
            auth = {"Authorization": f"Bearer {owner.token}"}
            answers.append(await http.post("/api/v1/rooms", json={"name": f"Late {n}"}, headers=auth))

    async with trio.open_nursery() as nursery:
        for n in range(4):  # two on each process, all at once
            nursery.start_soon(create, cluster.nodes[n % 2].url, n)
    assert Counter(r.status_code for r in answers) == {201: 2, 429: 2}
    quota = [r for r in answers if r.status_code == 429]
    assert all("Retry-After" not in r.headers and "50 rooms" in r.text for r in quota)


# token revocation ----------------------------------------------------------------


async def test_a_token_logged_out_on_one_process_is_refused_by_every_process_and_closes_its_socket_elsewhere(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    first, second, third = cluster.nodes
    async with client(cluster.http) as http:
        owner = await account(http)
        other = (await login(cluster.http, owner.username, owner.password)).json()["token"]
    here = await session(nursery, second.ws_url, owner.token)
    untouched = await session(nursery, third.ws_url, other)
    async with client(first.url) as http:
        r = await http.post("/api/v1/logout", headers={"Authorization": f"Bearer {owner.token}"})
    assert r.status_code == 204
    assert await closed_with(here) == 4401
    for node in cluster.nodes:
        assert await me(node.url, owner.token) == 401
        assert await handshake(node.url, owner.token) == 401
        assert await me(node.url, other) == 200
    await untouched.send_message('{"type":"ping","ref":"p"}')
    with trio.fail_after(10):
        assert '"pong"' in str(await untouched.get_message())


async def test_logging_out_everywhere_on_one_process_ends_every_session_on_every_process(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    first, second, third = cluster.nodes
    async with client(cluster.http) as http:
        owner = await account(http)
        other = (await login(cluster.http, owner.username, owner.password)).json()["token"]
    sockets = [
        await session(nursery, second.ws_url, owner.token),
        await session(nursery, third.ws_url, other),
    ]
    async with client(first.url) as http:
        r = await http.post("/api/v1/logout-all", headers={"Authorization": f"Bearer {owner.token}"})
    assert r.status_code == 204
    assert [await closed_with(ws) for ws in sockets] == [4401, 4401]
    fresh = (await login(first.url, owner.username, owner.password)).json()["token"]
    for node in cluster.nodes:
        assert [await me(node.url, token) for token in (owner.token, other, fresh)] == [401, 401, 200]
        assert await handshake(node.url, other) == 401


async def test_a_password_changed_on_one_process_ends_every_session_on_every_process(
    start_cluster: StartCluster, nursery: trio.Nursery
) -> None:
    cluster = await start_cluster(3)
    first, second, third = cluster.nodes
    async with client(cluster.http) as http:
        owner = await account(http)
    sockets = [await session(nursery, node.ws_url, owner.token) for node in (second, third)]
    async with client(first.url) as http:
        r = await http.post(
            "/api/v1/password",
            json={"old_password": owner.password, "new_password": "a new horse"},
            headers={"Authorization": f"Bearer {owner.token}"},
        )
    assert r.status_code == 200, r.text
    fresh = r.json()["token"]
    assert [await closed_with(ws) for ws in sockets] == [4401, 4401]
    for node in cluster.nodes:
        assert [await me(node.url, owner.token), await me(node.url, fresh)] == [401, 200]
        assert await handshake(node.url, owner.token) == 401
        assert await status_of_login(node.url, owner.username, owner.password) == 401
    assert await status_of_login(third.url, owner.username, "a new horse") == 200


# Redis away ----------------------------------------------------------------------


@dataclass
class OwnRedis:
    """A Redis of the test's own, on a free port, which the test may stop and start again."""

    port: int
    directory: Path
    process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL)
        with trio.fail_after(10):
            while redis_command(self.url, "PING") is None:  # another process: polled on the real clock
                await trio.sleep(0.05)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = OwnRedis(free_port(), tmp_path)
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


@pytest.mark.parametrize("cluster_db_url", [MARIADB_PARAM], indirect=True)
async def test_logins_registrations_and_new_rooms_are_refused_with_a_retry_while_redis_is_away(
    start_cluster: StartCluster, own_redis: OwnRedis
) -> None:
    """Fail closed: nothing passes uncounted; 503 ``unavailable`` says when to try again."""
    cluster = await start_cluster(2, redis_url=own_redis.url)
    async with client(cluster.http) as front:
        owner = await account(front)
    # Straight to a process: without Redis every /healthz fails, so the balancer soon takes every
    # process out and answers 503 itself (docs/cluster.md); what is checked here is the process's answer.
    async with client(cluster.nodes[0].url) as http:
        auth = {"Authorization": f"Bearer {owner.token}"}
        await own_redis.stop()
        refused = [
            await http.post("/api/v1/login", json={"username": owner.username, "password": "guess guess"}),
            await http.post("/api/v1/login", json={"username": owner.username, "password": owner.password}),
            await http.post("/api/v1/register", json={"username": "newcomer", "password": "correct horse"}),
            await http.post("/api/v1/rooms", json={"name": "Meanwhile"}, headers=auth),
            await http.post(
                "/api/v1/password",
                json={"old_password": owner.password, "new_password": "a new horse"},
                headers=auth,
            ),
        ]
        for r in refused:
            assert (r.status_code, r.headers["Retry-After"]) == (503, "2")
            assert ErrorBody.model_validate_json(r.content, strict=True).error.code == "unavailable"
        assert (await http.get("/api/v1/me", headers=auth)).status_code == 200  # tokens are the database's
        await own_redis.start()  # empty: the counts start again, as after any Redis restart
        with trio.fail_after(20):
            while (await login(cluster.http, owner.username, owner.password)).status_code != 200:
                await trio.sleep(0.2)
