"""The one crossing between Trio and asyncio.

Tortoise keeps its connections in a ``TortoiseContext`` carried by a context
variable. Each bridged call runs in a fresh asyncio task whose context is a
copy of the caller's, so the context set by ``Tortoise.init`` would be lost
between calls. :meth:`AsyncioBridge.call` sets the saved context in the
variable at the start of every call. It does not use ``with context:``: that
keeps one reset token on the shared context object, which concurrent calls
overwrite. The throwaway task context needs no reset. Binding per bridge also
keeps two servers in one process (as the tests run them) apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import trio_asyncio
from tortoise.context import _current_context

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
            if context is not None:
                _current_context.set(context)
            return await fn(*args, **kwargs)

        result: T = await trio_asyncio.aio_as_trio(in_context, loop=self._loop)()
        return result


@asynccontextmanager
async def open_bridge() -> AsyncIterator[AsyncioBridge]:
    """Run an asyncio loop inside Trio for as long as the block lasts."""
    async with trio_asyncio.open_loop() as loop:
        yield AsyncioBridge(loop)
