"""Token generations and logged-out tokens, in Trio terms (see :class:`storage.models.TokenGenerationRow`).

What :mod:`web.revocation` needs to make a logout outlive the process:
every method crosses the asyncio bridge once.
"""

from __future__ import annotations

from tortoise.expressions import F

from storage.bridge import AsyncioBridge
from storage.models import RevokedTokenRow, TokenGenerationRow, UserRow
from storage.session_credentials import RefreshCredentials


class Credentials:
    def __init__(self, bridge: AsyncioBridge) -> None:
        self._bridge = bridge
        self.refresh = RefreshCredentials(bridge)
        """Browser logins' refresh credentials, hashed (:mod:`storage.session_credentials`)."""

    async def generation(self, user_id: str) -> int:
        async def query() -> TokenGenerationRow | None:
            return await TokenGenerationRow.filter(user_id=user_id).first()

        row = await self._bridge.call(query)
        return 0 if row is None else int(row.generation)

    async def next_generation(self, user_id: str) -> int:
        """Move the user's generation on by one (refusing every token issued before); the new one."""

        async def bump() -> int:
            updated = await TokenGenerationRow.filter(user_id=user_id).update(generation=F("generation") + 1)
            if not updated:
                await TokenGenerationRow.get_or_create(user_id=user_id, defaults={"generation": 0})
                await TokenGenerationRow.filter(user_id=user_id).update(generation=F("generation") + 1)
            row = await TokenGenerationRow.get(user_id=user_id)
            return int(row.generation)

        return await self._bridge.call(bump)

    async def revoke(self, jti: str, user_id: str, expires_at: int) -> None:
        async def insert() -> None:
            await RevokedTokenRow.get_or_create(
                jti=jti, defaults={"user_id": user_id, "expires_at": expires_at}
            )

        await self._bridge.call(insert)

    async def revoked(self, now: int) -> dict[str, tuple[str, int]]:
        """Logged-out tokens that have not expired yet, ``jti -> (user_id, exp)``; the expired ones are deleted."""

        async def query() -> list[RevokedTokenRow]:
            await RevokedTokenRow.filter(expires_at__lt=now).delete()
            return await RevokedTokenRow.all()

        return {row.jti: (row.user_id, int(row.expires_at)) for row in await self._bridge.call(query)}

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async def update() -> None:
            await UserRow.filter(id=user_id).update(password_hash=password_hash)

        await self._bridge.call(update)
