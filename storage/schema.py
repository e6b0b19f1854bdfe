"""Creating the tables when several processes start on one database at the same moment.

``Tortoise.generate_schemas(safe=True)`` is ``CREATE TABLE IF NOT EXISTS``,
``CREATE INDEX IF NOT EXISTS`` and, on PostgreSQL, ``COMMENT ON`` for every
table, in one script. Two processes running it at once can collide even
when the tables exist: each takes a share lock on a table for its index and
then asks for the stronger lock of ``COMMENT ON``, which the other's share
lock blocks, so PostgreSQL kills one of them as a deadlock; on a fresh
database two ``CREATE TABLE IF NOT EXISTS`` can also both try to create the
table's type (``pg_type_typname_nsp_index``). Every statement is idempotent,
so the loser only has to run the script again once the winner is through.
"""

from __future__ import annotations

import asyncio
import logging
import random

from tortoise import Tortoise

log = logging.getLogger(__name__)

ATTEMPTS = 5
"""Tries before giving up: each collision needs another process creating the schema at that moment."""

_COLLISIONS = ("deadlock", "pg_type_typname_nsp_index", "already exists", "duplicate key")


def collided(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is another process's schema creation getting in the way."""
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{type(seen).__name__} {seen}".lower()
        if any(sign in text for sign in _COLLISIONS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def generate_schemas() -> None:
    """Create what is missing, running the script again when a concurrent start collided with it.

    Runs on the asyncio side of the bridge, as Tortoise does.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await Tortoise.generate_schemas(safe=True)
            return
        except Exception as exc:
            if attempt == ATTEMPTS or not collided(exc):
                raise
            log.warning(
                "creating the tables collided with another process doing the same (%s); trying again",
                type(exc).__name__,
            )
            await asyncio.sleep(0.1 * attempt + random.random() * 0.3)
