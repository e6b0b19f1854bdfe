"""The login throttle and the password queue, as a guesser and an owner meet them over HTTP.

Requests are written by hand on connections opened beforehand, so that a
burst reaches the server at once, as an attacker's would.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter

import pytest
import trio

from storage.passwords import Passwords, PasswordsBusy
from tests.conftest import Api, Server, start_server, with_config
from web.client_address import ClientAddress, parse_networks
from web.config import Config


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The throttle and the password queue live in the process, whatever the database: SQLite only."""
    return sqlite_url


async def open_connections(server: Server, n: int) -> list[trio.SocketStream]:
    return [await trio.open_tcp_stream("127.0.0.1", server.running.port) for _ in range(n)]


def login_request(username: str, password: str, *, forwarded_for: str | None = None) -> bytes:
    body = json.dumps({"username": username, "password": password}).encode()
    head = (
        "POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if forwarded_for is not None:
        head += f"X-Forwarded-For: {forwarded_for}\r\n"
    return (head + "\r\n").encode() + body


async def answer_status(stream: trio.SocketStream) -> tuple[int, dict[str, str]]:
    """The status and headers of the answer, once its whole body (by Content-Length) has arrived."""
    data = b""
    with trio.fail_after(30):
        while True:
            data += await stream.receive_some(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
            if _ and len(body) >= int(headers.get("content-length", 0)):
                await stream.aclose()
                return int(lines[0].split()[1]), headers


async def burst(streams: list[trio.SocketStream], requests: list[bytes]) -> list[tuple[int, dict[str, str]]]:
    """Write every request at once, then read every answer."""
    for stream, request in zip(streams, requests, strict=True):
        await stream.send_all(request)
    answers: list[tuple[int, dict[str, str]]] = [(0, {})] * len(streams)

    async def read(i: int) -> None:
        answers[i] = await answer_status(streams[i])

    async with trio.open_nursery() as nursery:
        for i in range(len(streams)):
            nursery.start_soon(read, i)
    return answers


async def login(api: Api, username: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    r = await api.call(
        "POST", "/api/v1/login", json={"username": username, "password": password}, headers=headers
    )
    return r.status_code


async def test_a_burst_of_wrong_passwords_is_checked_only_up_to_the_limit(api: Api, server: Server) -> None:
    """100 guesses written at once: 10 are checked (401), every other one is refused before hashing."""
    victim = await api.account()
    streams = await open_connections(server, 100)
    answers = await burst(streams, [login_request(victim.username, f"guess {n:04}") for n in range(100)])
    statuses = Counter(status for status, _ in answers)
    assert statuses == {401: 10, 429: 90}
    assert all(int(headers["retry-after"]) >= 1 for status, headers in answers if status == 429)


@pytest.fixture
def config(config: Config) -> Config:
    # The suite's server sits behind a "proxy" on loopback, so each test can speak for many clients.
    return with_config(config, trusted_proxies=parse_networks(["127.0.0.1/32"]))


async def test_guessing_from_elsewhere_does_not_lock_the_owner_out(api: Api) -> None:
    owner = await api.account()
    assert await login(api, owner.username, owner.password, "198.51.100.7") == 200  # the owner's usual place
    statuses = Counter()
    for n in range(150):  # a distributed guess: 15 addresses, 10 guesses each
        statuses[await login(api, owner.username, f"guess {n}", f"203.0.113.{n // 10}")] += 1
    assert statuses == {401: 100, 429: 50}  # the account's own back-off, for addresses it never used
    assert await login(api, owner.username, owner.password, "198.51.100.7") == 200
    assert await login(api, owner.username, owner.password, "192.0.2.99") == 429  # a new place waits


async def test_one_address_is_held_to_ten_failures_per_account(api: Api) -> None:
    owner = await api.account()
    for n in range(10):
        assert await login(api, owner.username, f"guess {n}", "203.0.113.1") == 401
    r = await api.call(
        "POST",
        "/api/v1/login",
        json={"username": owner.username, "password": owner.password},
        headers={"X-Forwarded-For": "203.0.113.1"},
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert await login(api, owner.username, owner.password, "203.0.113.2") == 200


async def test_an_address_spraying_many_accounts_is_held_to_fifty_failures(api: Api) -> None:
    statuses = Counter()
    for n in range(60):
        statuses[await login(api, f"nobody{n}", "guess guess", "203.0.113.5")] += 1
    assert statuses == {401: 50, 429: 10}


async def test_another_spelling_of_a_throttled_name_shares_its_count(api: Api) -> None:
    owner = await api.account("José")
    for n in range(10):
        assert await login(api, "José", f"guess {n}", "203.0.113.9") == 401
    for spelling in (unicodedata.normalize("NFD", "José"), "JOSÉ", "josé"):
        assert await login(api, spelling, owner.password, "203.0.113.9") == 429


async def test_forwarded_for_is_not_believed_from_an_untrusted_peer(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, trusted_proxies=()))
    api = Api(server)
    try:
        owner = await api.account()
        for n in range(10):  # each pretends to come from somewhere else
            assert await login(api, owner.username, f"guess {n}", f"203.0.113.{n}") == 401
        assert await login(api, owner.username, "guess 10", "203.0.113.200") == 429
    finally:
        await api.http.aclose()


def test_the_client_is_the_last_address_before_the_trusted_proxies() -> None:
    proxies = ClientAddress(parse_networks(["10.0.0.0/8", "127.0.0.1"]))
    assert proxies.of("127.0.0.1", ["198.51.100.1, 10.1.2.3"]) == "198.51.100.1"
    assert (
        proxies.of("127.0.0.1", ["6.6.6.6, 198.51.100.1", "10.1.2.3"]) == "198.51.100.1"
    )  # 6.6.6.6 is a claim
    assert proxies.of("127.0.0.1", []) == "127.0.0.1"
    assert proxies.of("127.0.0.1", ["not an address, 198.51.100.1"]) == "198.51.100.1"
    assert proxies.of("127.0.0.1", ["198.51.100.1, garbage"]) == "127.0.0.1"
    assert proxies.of("192.0.2.1", ["198.51.100.1"]) == "192.0.2.1"  # the peer is not a proxy of ours


async def test_the_queue_of_password_checks_is_bounded() -> None:
    """One worker, two may wait: the fourth check at once is refused instead of queueing."""
    passwords = Passwords(concurrency=1, max_waiting=2)
    stored = await passwords.hash("correct horse")
    outcomes: list[object] = []

    async def check() -> None:
        try:
            outcomes.append(await passwords.verify(stored, "correct horse"))
        except PasswordsBusy:
            outcomes.append("busy")

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(check)
        await trio.testing.wait_all_tasks_blocked()
        await check()
    assert outcomes[0] == "busy" and outcomes[1:] == [True, True, True]


async def test_a_login_storm_is_answered_at_once_past_the_password_queue(
    config: Config, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, with_config(config, password_workers=1, password_queue=2))
    api = Api(server)
    try:
        names = [(await api.account()).username for _ in range(3)]
        streams = await open_connections(server, 60)
        requests = [
            login_request(names[n % 3], "wrong password", forwarded_for=f"203.0.113.{n}") for n in range(60)
        ]
        answers = await burst(streams, requests)
        busy = [headers for status, headers in answers if status == 429]
        assert busy and all(headers["retry-after"] == "1" for headers in busy)
        assert {status for status, _ in answers} <= {401, 429}
    finally:
        await api.http.aclose()


@pytest.mark.parametrize("path", ["/api/v1/login", "/api/v1/register"])
async def test_an_account_body_larger_than_its_fields_is_refused_unread(api: Api, path: str) -> None:
    costly = "[" + ",".join(["{}"] * 20_000) + "]"  # 60 KB that would take milliseconds to parse
    r = await api.call("POST", path, content=costly)
    assert r.status_code == 413 and r.json()["error"]["code"] == "bad_request"
    longest = {"username": "\U0001d5ba" * 32, "password": "\U0001f600" * 128}  # every character escaped
    assert len(json.dumps(longest)) < 2048
    r = await api.call("POST", path, content=json.dumps(longest))
    assert r.status_code in (400, 401), r.text  # read and judged, not refused for its size


async def test_malformed_logins_count_against_their_address(api: Api) -> None:
    for _ in range(50):
        r = await api.call(
            "POST", "/api/v1/login", content=b"{not json", headers={"X-Forwarded-For": "203.0.113.77"}
        )
        assert r.status_code == 400
    owner = await api.account()
    assert await login(api, owner.username, owner.password, "203.0.113.77") == 429
    metrics = (await api.call("GET", "/metrics")).text
    assert "chat_logins_malformed_total 50.0" in metrics
