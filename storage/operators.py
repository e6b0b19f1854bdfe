"""What operators do to accounts from the command line: site administrators and deactivation.

``chat-server make-admin`` and ``chat-server deactivate`` write here, to
the database the configuration names, whether a server is running or not.
A running server reads the deactivations back: all of them when it starts
(:meth:`Operators.deactivated`), then those after the last it has seen
(:meth:`Operators.deactivated_after`), so that an account deactivated while
it runs is refused and its sessions closed within one polling interval
(:mod:`web.deactivation`).
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from storage.bridge import AsyncioBridge
from storage.dialects import NUL
from storage.models import DeactivatedUserRow, SiteAdminRow
from wire.clock import now_ms


class Operators:
    def __init__(self, bridge: AsyncioBridge) -> None:
        self._bridge = bridge

    async def make_admin(self, user_id: str) -> bool:
        """Make the user a site administrator; False if they were one already."""

        async def insert() -> bool:
            _, created = await SiteAdminRow.get_or_create(user_id=user_id, defaults={"created_at": now_ms()})
            return bool(created)

        return await self._bridge.call(insert)

    async def deactivate(self, user_id: str) -> bool:
        """Deactivate the account; False if it was deactivated already."""

        async def insert() -> bool:
            if await DeactivatedUserRow.filter(user_id=user_id).exists():
                return False
            try:
                await DeactivatedUserRow.create(user_id=user_id, deactivated_at=now_ms())
            except IntegrityError:  # deactivated meanwhile, by another operator
                return False
            return True

        return await self._bridge.call(insert)

    async def is_deactivated(self, user_id: str) -> bool:
        async def query() -> bool:
            return bool(await DeactivatedUserRow.filter(user_id=user_id).exists())

        return False if NUL in user_id else await self._bridge.call(query)

    async def deactivated(self) -> tuple[set[str], int]:
        """Every deactivated account, and the id of the newest deactivation (0: none)."""
        return await self.deactivated_after(0)

    async def deactivated_after(self, last: int) -> tuple[set[str], int]:
        """Accounts deactivated after the deactivation ``last``, and the newest id (``last`` if none)."""

        async def query() -> list[tuple[int, str]]:
            rows = await DeactivatedUserRow.filter(id__gt=last).order_by("id").values_list("id", "user_id")
            return [(int(i), str(u)) for i, u in rows]

        rows = await self._bridge.call(query)
        return {u for _, u in rows}, (rows[-1][0] if rows else last)
