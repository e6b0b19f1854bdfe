"""Users and rooms for the benchmark, made through our server's public HTTP API.

Registration and login each hash a password with argon2id (tens of milliseconds of
server CPU), so 5000 users cost minutes. They are therefore made once per server
process, concurrently under a bound, and reused by every scenario of the run. A 429
(`rate_limited`) is honoured with its Retry-After, so the harness still completes
against a server whose login rate limit was not lifted, only slower; the benchmark
configuration sets CHAT_RATE_LIMIT=false to avoid that.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

PASSWORD = "bench-password-0123"


@dataclass(frozen=True, slots=True)
class Account:
    """One user able to open WebSocket sessions."""

    user_id: str
    username: str
    token: str


@dataclass
class SetupStats:
    """How the account setup went, for the report (it is a benchmark of its own)."""

    users: int = 0
    seconds: float = 0.0
    rate_limited: int = 0


class ApiError(RuntimeError):
    pass


async def _call(http: aiohttp.ClientSession, method: str, url: str, stats: SetupStats,
                body: dict[str, Any] | None = None, token: str | None = None,
                attempts: int = 20) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(attempts):
        async with http.request(method, url, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 429:
                return resp.status, data
            stats.rate_limited += 1
            await asyncio.sleep(min(float(resp.headers.get("Retry-After", "1")), 60.0))
    raise ApiError(f"{method} {url}: still rate limited after {attempts} attempts")


async def make_accounts(base_url: str, count: int, prefix: str = "bench",
                        concurrency: int = 8) -> tuple[list[Account], SetupStats]:
    """Register (or reuse) `count` users and log each in; bounded concurrency."""
    stats = SetupStats()
    started = time.monotonic()
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

        async def one(i: int) -> Account:
            creds = {"username": f"{prefix}{i:05d}", "password": PASSWORD}
            async with sem:
                status, data = await _call(http, "POST", f"{base_url}/api/v1/register",
                                           stats, creds)
                if status not in (201, 409):
                    raise ApiError(f"register {creds['username']}: {status} {data}")
                status, data = await _call(http, "POST", f"{base_url}/api/v1/login",
                                           stats, creds)
                if status != 200:
                    raise ApiError(f"login {creds['username']}: {status} {data}")
            user = data["user"]
            return Account(user["user_id"], user["username"], data["token"])

        accounts = await asyncio.gather(*(one(i) for i in range(count)))
    stats.users = count
    stats.seconds = time.monotonic() - started
    return list(accounts), stats


async def create_rooms(base_url: str, token: str, count: int, prefix: str = "bench-room"
                       ) -> list[str]:
    """Create `count` rooms through POST /api/v1/rooms and return their ids."""
    stats = SetupStats()
    sem = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def one(i: int) -> str:
            async with sem:
                status, data = await _call(http, "POST", f"{base_url}/api/v1/rooms", stats,
                                           {"name": f"{prefix}-{i}"}, token)
            if status != 201:
                raise ApiError(f"create room: {status} {data}")
            return str(data["room"]["room_id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def newest_message_id(base_url: str, token: str, room_id: str) -> int | None:
    """The id of the newest stored message of a room, from the history API."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        url = f"{base_url}/api/v1/rooms/{room_id}/messages?limit=1"
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise ApiError(f"history {room_id}: {resp.status} {data}")
    messages = data.get("messages") or []
    return int(messages[-1]["id"]) if messages else None


async def online_count(base_url: str, token: str) -> int:
    """Site-wide online users, to see that the previous scenario's sessions are gone."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        url = f"{base_url}/api/v1/online"
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            data = await resp.json(content_type=None)
    return len(data.get("users") or [])
