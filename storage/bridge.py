"""The one crossing between Trio and asyncio.

Tortoise keeps its connections in a ``TortoiseContext`` carried by a context
variable. Each bridged call runs in a fresh asyncio task whose context is a
copy of the caller's, so the context set by ``Tortoise.init`` would be lost
between calls; :meth:`AsyncioBridge.call` re-enters the saved context around
every call instead, which also keeps two servers in one process (as the tests
run them) from sharing connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import trio_asyncio

P = ParamSpec("P")
T = TypeVar("T")


class AsyncioBridge:
    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._context: Any = None

    def bind(self, context: Any) -> None:
        """Remember the TortoiseContext returned by ``Tortoise.init``."""
        self._context = context

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the asyncio coroutine function ``fn`` and return its result to Trio."""
        context = self._context

        async def in_context() -> T:
            if context is None:
                return await fn(*args, **kwargs)
            with context:
                return await fn(*args, **kwargs)

        result: T = await trio_asyncio.aio_as_trio(in_context, loop=self._loop)()
        return result


@asynccontextmanager
async def open_bridge() -> AsyncIterator[AsyncioBridge]:
    """Run an asyncio loop inside Trio for as long as the block lasts."""
    async with trio_asyncio.open_loop() as loop:
        yield AsyncioBridge(loop)
